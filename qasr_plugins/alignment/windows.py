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

from qasr_plugins.asr.chunks import ChunkLimits, plan_chunks
from qasr_plugins.energy import QuietPoint, speech_spans
from qasr_plugins.types import Audio, Span

#: Cuts in a long segment: at the start of the quietest 100 ms frame in the last fifth before each limit.
_QUIET = QuietPoint(window=0.1, sliding=False, power=2, latest=False, middle=False)


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
    limits = ChunkLimits(max_seconds=max_window, min_seconds=0.0, search=0.2 * max_window, quiet=_QUIET)
    cuts = [span.start, *(piece.end for piece in plan_chunks(audio, span, limits)[:-1]), span.end]
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
    part = audio.crop(span)
    regions = [(part.offset + start, part.offset + end) for start, end in speech_spans(part.waveform,
                                                                                       part.sample_rate)]

    def heard(time: float) -> float:
        return sum(max(0.0, min(time, end) - start) for start, end in regions)

    total = heard(span.end)
    if total < 0.01 * span.duration:
        return lambda time: (time - span.start) / span.duration
    return lambda time: heard(time) / total

