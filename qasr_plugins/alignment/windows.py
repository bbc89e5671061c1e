"""Plan the audio windows the aligner sees: at most ``max_window`` seconds, cut at segment boundaries.

A window holds one or more whole segments (several only when grouping is asked for and they fit). A segment
longer than ``max_window`` (e.g. a whole-file text given to ``qasr align``) is cut at the quietest point near
each limit, and its units are shared out in proportion to the speech each piece holds (an energy VAD over the
segment), so a long pause takes no text; a segment without detectable speech is shared by duration. Spans stay
absolute in the recording: the aligner crops the audio to the window and adds the window's start once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from qasr_plugins.types import Audio, Span


@dataclass(frozen=True)
class Piece:
    """Units ``[first, stop)`` of segment ``segment``, timed inside ``span``."""

    segment: int
    first: int
    stop: int
    span: Span


@dataclass(frozen=True)
class Window:
    """One aligner call: the audio ``span`` and the segment pieces aligned in it, in order."""

    span: Span
    pieces: tuple[Piece, ...]


def plan_windows(spans: Sequence[Span], unit_lengths: Sequence[Sequence[int]], audio: Audio, max_window: float,
                 group: bool = False) -> list[Window]:
    """Windows covering every segment that has units.

    Args:
        spans: The segments' spans, sorted by start.
        unit_lengths: For each segment, the character length of each of its units.
        audio: The recording (used to find quiet cut points in long segments).
        max_window: The longest window in seconds.
        group: Put consecutive segments into one window while it stays within ``max_window``.
    """
    pieces: list[Piece] = []
    for index, (span, lengths) in enumerate(zip(spans, unit_lengths, strict=True)):
        if lengths:
            pieces.extend(_split_segment(index, span, lengths, audio, max_window))
    windows: list[Window] = []
    for piece in pieces:
        last = windows[-1] if windows else None
        if (group and last is not None and piece.span.start >= last.span.end
                and piece.span.end - last.span.start <= max_window):
            windows[-1] = Window(Span(last.span.start, piece.span.end), (*last.pieces, piece))
        else:
            windows.append(Window(piece.span, (piece,)))
    return windows


def _split_segment(index: int, span: Span, lengths: Sequence[int], audio: Audio, max_window: float) -> list[Piece]:
    if span.duration <= max_window:
        return [Piece(index, 0, len(lengths), span)]
    cuts = [span.start]
    while span.end - cuts[-1] > max_window:
        cuts.append(_quietest(audio, cuts[-1] + 0.8 * max_window, cuts[-1] + max_window))
    cuts.append(span.end)
    weights = np.cumsum([0, *[n + 1 for n in lengths]], dtype=np.float64)
    shares = weights / weights[-1]
    spoken = _speech_share(audio, span)
    pieces: list[Piece] = []
    first = 0
    for k in range(len(cuts) - 1):
        fraction = spoken(cuts[k + 1])
        stop = len(lengths) if k == len(cuts) - 2 else int(np.searchsorted(shares, fraction, side="right")) - 1
        stop = max(first, min(len(lengths), stop))
        if stop > first:
            pieces.append(Piece(index, first, stop, Span(cuts[k], cuts[k + 1])))
        first = stop
    return pieces


def _speech_share(audio: Audio, span: Span) -> Callable[[float], float]:
    """The share of ``span``'s speech heard before a time (by duration when no speech is detected)."""
    from qasr_plugins.stage import VadInput
    from qasr_plugins.stages.energy_vad import EnergyVad

    regions = EnergyVad().process([VadInput(audio.crop(span))])[0].regions

    def heard(time: float) -> float:
        return sum(max(0.0, min(time, r.end) - r.start) for r in regions)

    total = heard(span.end)
    if total < 0.01 * span.duration:
        return lambda time: (time - span.start) / span.duration
    return lambda time: heard(time) / total


def _quietest(audio: Audio, start: float, end: float, frame: float = 0.1) -> float:
    """The start of the quietest ``frame`` between ``start`` and ``end`` (absolute seconds)."""
    region = audio.crop(Span(start, end))
    hop = max(1, int(frame * region.sample_rate))
    count = len(region.waveform) // hop
    if count == 0:
        return end
    energy = np.mean(region.waveform[: count * hop].reshape(count, hop) ** 2, axis=1)
    return region.offset + int(np.argmin(energy)) * hop / region.sample_rate
