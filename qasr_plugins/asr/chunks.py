"""Cut long stretches of audio for a model call: at most ``max_seconds`` each, cut at low-energy points.

Spans are absolute in the recording. A cut inside a long region is placed at the quietest point
(:class:`~qasr_plugins.energy.QuietPoint`) of the ``search`` seconds before the hard limit, so no piece exceeds the
limit, and never so late that the remainder would be shorter than ``min_seconds``. Regions shorter than
``min_seconds`` stay as they are (the caller pads or drops them). ASR backends and the aligner's windows both cut
here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qasr_plugins.energy import QuietPoint
from qasr_plugins.types import Audio, Span


@dataclass(frozen=True)
class ChunkLimits:
    """Limits of one model call.

    Attributes:
        max_seconds: Longest piece (Qwen3-ASR: 1200 s; the forced aligner: 180 s); may be ``math.inf``.
        min_seconds: Shortest piece a cut may leave (0 allows any); short regions are the caller's business.
        search: How far before the hard limit to look for a quiet cut point (s).
        quiet: How the quiet point is found (by default the middle of the quietest 100 ms, the latest of equals).
    """

    max_seconds: float = 1200.0
    min_seconds: float = 0.5
    search: float = 5.0
    quiet: QuietPoint = field(default_factory=QuietPoint)

    def __post_init__(self) -> None:
        if not 0 <= self.min_seconds < self.max_seconds:
            raise ValueError("ChunkLimits needs 0 <= min_seconds < max_seconds")
        if not 0 < self.quiet.window <= self.search < self.max_seconds:
            raise ValueError("ChunkLimits needs 0 < quiet.window <= search < max_seconds")


def _quietest_cut(audio: Audio, lower: float, upper: float, quiet: QuietPoint) -> float:
    """The quietest point inside [lower, upper] (absolute seconds); ``upper`` when no window fits."""
    part = audio.crop(Span(lower, upper))
    found = quiet.find(part.waveform, audio.sample_rate)
    return upper if found is None else part.offset + found


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
        cut = _quietest_cut(audio, lower, hard, limits.quiet) if hard > lower else hard
        cut = min(max(cut, start + limits.min_seconds), hard)
        pieces.append(Span(start, cut))
        start = cut
    if region.end > start or not pieces:
        pieces.append(Span(start, region.end))
    return pieces
