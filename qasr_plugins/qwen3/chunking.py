"""Plan the pieces of audio sent to a Qwen3 model: at most ``max_seconds`` each, cut at low-energy points.

Spans are absolute in the recording. A cut inside a long region is placed at the quietest ``window`` of the
``search`` seconds before the hard limit, so no piece exceeds the limit, and never so late that the remainder would
be shorter than ``min_seconds``. Regions shorter than ``min_seconds`` stay as they are (the caller pads them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qasr_plugins.types import Audio, Span


@dataclass(frozen=True)
class ChunkLimits:
    """Limits of one model call.

    Attributes:
        max_seconds: Longest piece (Qwen3-ASR: 1200 s; the forced aligner: 180 s).
        min_seconds: Shortest useful piece; shorter cuts are avoided and short regions padded by the caller.
        search: How far before the hard limit to look for a quiet cut point (s).
        window: Length of the energy window compared when looking for the cut (s).
    """

    max_seconds: float = 1200.0
    min_seconds: float = 0.5
    search: float = 5.0
    window: float = 0.1

    def __post_init__(self) -> None:
        if not 0 < self.min_seconds < self.max_seconds:
            raise ValueError("ChunkLimits needs 0 < min_seconds < max_seconds")
        if not 0 < self.window <= self.search < self.max_seconds:
            raise ValueError("ChunkLimits needs 0 < window <= search < max_seconds")


def _quietest_cut(audio: Audio, lower: float, upper: float, window: float) -> float:
    """The middle of the lowest-energy ``window`` inside [lower, upper] (absolute seconds)."""
    part = audio.crop(Span(lower, upper))
    width = max(1, round(window * audio.sample_rate))
    if len(part.waveform) <= width:
        return upper
    energy = np.concatenate(([0.0], np.cumsum(np.abs(part.waveform, dtype=np.float64))))
    sums = energy[width:] - energy[:-width]
    best = int(np.argmin(sums[::-1]))  # prefer the latest among equally quiet windows
    start = len(sums) - 1 - best
    return part.offset + (start + width // 2) / audio.sample_rate


def plan_chunks(audio: Audio, region: Span, limits: ChunkLimits = ChunkLimits()) -> list[Span]:
    """Cut ``region`` (absolute seconds) into pieces no longer than ``limits.max_seconds``.

    The pieces are contiguous, cover the region exactly and keep absolute time.
    """
    region = region.clamped(audio.span.start, audio.span.end)
    pieces: list[Span] = []
    start = region.start
    while region.end - start > limits.max_seconds:
        hard = min(start + limits.max_seconds, region.end - limits.min_seconds)
        lower = max(start + limits.min_seconds, hard - limits.search)
        cut = _quietest_cut(audio, lower, hard, limits.window) if hard > lower else hard
        cut = min(max(cut, start + limits.min_seconds), hard)
        pieces.append(Span(start, cut))
        start = cut
    if region.end > start or not pieces:
        pieces.append(Span(start, region.end))
    return pieces
