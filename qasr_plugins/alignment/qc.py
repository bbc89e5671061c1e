"""Timestamp quality control for forced alignment: detect the aligner's known failure modes and repair them.

Spans are checked per aligned window (a segment, or the part of the audio one aligner call saw):

* ``all_zero``: two or more units stuck at the window start with no length (the aligner's class 0);
* ``identical_starts``: a run of units sharing one start;
* ``trailing_pileup``: the last units of the window piled onto one timestamp (reported past ~270 s);
* ``zero_length``: a unit whose end equals its start;
* ``overlong``: a unit longer than plausible, or stretched over silence at its edges;
* ``out_of_bounds``: a unit outside the window (clamped, not counted as a repair when under 10 ms);
* ``untimed``: a unit the aligner could not time at all (e.g. characters outside a CTC model's vocabulary).

Repairs: suspect runs are first re-aligned in a smaller window when the caller can do so (``realign``), and the
result is kept only if it passes QC; otherwise their time is interpolated monotonically between the neighbouring
good units, in proportion to unit length. Overlong units are trimmed to their voiced part when audio is given.
Monotonicity of the raw model output is restored beforehand by :func:`fix_monotonic` (longest increasing
subsequence + interpolation, as the official aligner does).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from qasr_plugins.sequences import runs
from qasr_plugins.types import Span

REPAIRED = "repaired"
#: A callable that re-aligns units ``[first, stop)`` inside ``window`` and returns their spans, or ``None``.
Realign = Callable[[Span, int, int], "list[Span] | None"]
_EPS = 1e-6


@dataclass(frozen=True)
class QcSettings:
    """Thresholds of the checks (seconds)."""

    min_identical_run: int = 3
    max_word_duration: float = 3.0
    max_char_duration: float = 1.2
    min_silence: float = 0.4
    min_unit_duration: float = 0.04
    tolerance: float = 0.01


@dataclass(frozen=True)
class QcIssue:
    """Units ``[first, stop)`` of a window show failure ``kind``."""

    kind: str
    first: int
    stop: int


@dataclass(frozen=True)
class QcResult:
    spans: tuple[Span, ...]
    repaired: tuple[bool, ...]
    issues: tuple[QcIssue, ...]


class Voicing:
    """Frame energies of a waveform, to find silence inside spans (10 ms frames, relative to the loudest)."""

    frame = 0.01
    #: Frames squared in float64 at a time (an hour at 16 kHz would need 0.9 GB at once).
    frames_per_block = 60_000

    def __init__(self, waveform: np.ndarray, sample_rate: int, offset: float = 0.0, threshold_db: float = -35.0,
                 floor_db: float = -60.0) -> None:
        hop = max(1, round(self.frame * sample_rate))
        count = len(waveform) // hop
        frames = waveform[: count * hop].reshape(count, hop)
        power = np.empty(count)
        for start in range(0, count, self.frames_per_block):  # float64 a block at a time, not the whole recording
            block = np.asarray(frames[start:start + self.frames_per_block], dtype=np.float64)
            power[start:start + len(block)] = np.mean(block**2, axis=1)
        level = 10 * np.log10(power + 1e-12) if count else np.zeros(0)
        reference = float(np.percentile(level, 99)) if count else 0.0
        self.voiced = (level >= reference + threshold_db) & (level >= floor_db)
        self.offset = offset
        self.hop_seconds = hop / sample_rate

    def _frames(self, span: Span) -> tuple[int, int]:
        first = max(0, int(np.floor((span.start - self.offset) / self.hop_seconds)))
        stop = min(len(self.voiced), int(np.ceil((span.end - self.offset) / self.hop_seconds)))
        return first, max(first, stop)

    def voiced_part(self, span: Span) -> Span | None:
        """The smallest span inside ``span`` that holds all its voiced frames (``None`` if all silent)."""
        first, stop = self._frames(span)
        hits = np.flatnonzero(self.voiced[first:stop])
        if hits.size == 0:
            return None
        start = self.offset + (first + hits[0]) * self.hop_seconds
        end = self.offset + (first + hits[-1] + 1) * self.hop_seconds
        return Span(max(span.start, start), max(max(span.start, start), min(span.end, end)))


def fix_monotonic(values: Sequence[float]) -> list[int]:
    """Make raw timestamps non-decreasing the way the official aligner does.

    The longest non-decreasing subsequence (earliest choice on ties) is kept; runs of at most two outliers take
    the value of the nearer kept neighbour (the left one on ties); longer runs are interpolated linearly between
    their kept neighbours. Values are truncated to integers (milliseconds), as upstream.
    """
    data = np.asarray(values, dtype=np.float64)
    count = len(data)
    if count == 0:
        return []
    length = np.ones(count, dtype=np.int64)
    parent = np.full(count, -1, dtype=np.int64)
    for i in range(1, count):
        candidates = np.where(data[:i] <= data[i], length[:i], 0)
        best = int(np.argmax(candidates))
        if candidates[best] > 0:
            length[i] = candidates[best] + 1
            parent[i] = best
    kept = np.zeros(count, dtype=bool)
    node = int(np.argmax(length))
    while node != -1:
        kept[node] = True
        node = int(parent[node])
    result = data.tolist()
    good = np.flatnonzero(kept)
    i = 0
    while i < count:
        if kept[i]:
            i += 1
            continue
        j = i
        while j < count and not kept[j]:
            j += 1
        before = good[good < i]
        after = good[good >= j]
        left = result[int(before[-1])] if before.size else None
        right = result[int(after[0])] if after.size else None
        for k in range(i, j):
            if left is None or right is None:
                result[k] = left if right is None else right
            elif j - i <= 2:
                result[k] = left if (k - i + 1) <= (j - k) else right
            else:
                result[k] = left + (right - left) / (j - i + 1) * (k - i + 1)
        i = j
    return [int(v) for v in result]


def detect(spans: Sequence[Span | None], window: Span, texts: Sequence[str] | None = None,
           voicing: Voicing | None = None, settings: QcSettings = QcSettings()) -> list[QcIssue]:
    """The failure modes present in ``spans`` (one per unit, in order) aligned inside ``window``."""
    count = len(spans)
    issues: list[QcIssue] = []
    taken = np.zeros(count, dtype=bool)
    for first, stop, untimed in runs([s is None for s in spans]):
        if untimed:
            issues.append(QcIssue("untimed", first, stop))
            taken[first:stop] = True
    spans = [Span(window.start, window.start) if s is None else s for s in spans]

    def add(kind: str, first: int, stop: int) -> None:
        issues.append(QcIssue(kind, first, stop))
        taken[first:stop] = True

    for first, stop, at_start in runs([s.end <= window.start + _EPS and not taken[i] for i, s in enumerate(spans)]):
        if at_start and stop - first >= 2:
            add("all_zero", first, stop)
    first = 0
    while first < count:
        stop = first + 1
        while stop < count and abs(spans[stop].start - spans[first].start) <= _EPS:
            stop += 1
        free = not taken[first:stop].any()
        if free and stop == count and stop - first >= 2:
            add("trailing_pileup", first, stop)
        elif free and stop - first >= settings.min_identical_run:
            add("identical_starts", first, stop)
        first = stop
    for index, span in enumerate(spans):
        if taken[index]:
            continue
        if span.duration <= _EPS:
            add("zero_length", index, index + 1)
        elif _overlong(span, texts[index] if texts else "", voicing, settings):
            add("overlong", index, index + 1)
    for index, span in enumerate(spans):
        if span.start < window.start - settings.tolerance or span.end > window.end + settings.tolerance:
            issues.append(QcIssue("out_of_bounds", index, index + 1))
    return sorted(issues, key=lambda issue: (issue.first, issue.kind))


def _overlong(span: Span, text: str, voicing: Voicing | None, settings: QcSettings) -> bool:
    limit = settings.max_char_duration if len(text) == 1 else settings.max_word_duration
    if span.duration > limit:
        return True
    if voicing is None or span.duration < settings.min_silence:
        return False
    voiced = voicing.voiced_part(span)
    if voiced is None:
        return True
    return max(voiced.start - span.start, span.end - voiced.end) >= settings.min_silence


def repair(spans: Sequence[Span | None], window: Span, texts: Sequence[str], voicing: Voicing | None = None,
           realign: Realign | None = None, settings: QcSettings = QcSettings()) -> QcResult:
    """Detect and repair failures; spans come back clamped to ``window``, monotone, with repaired units marked."""
    issues = detect(spans, window, texts, voicing, settings)
    spans = [Span(window.start, window.start) if s is None else s for s in spans]
    current = [s.clamped(window.start, window.end) for s in spans]
    repaired = [abs(a.start - b.start) > settings.tolerance or abs(a.end - b.end) > settings.tolerance
                for a, b in zip(spans, current, strict=True)]
    for issue in issues:
        if issue.kind != "overlong":
            continue
        span = current[issue.first]
        voiced = voicing.voiced_part(span) if voicing is not None else None
        limit = settings.max_char_duration if len(texts[issue.first]) == 1 else settings.max_word_duration
        trimmed = voiced if voiced is not None and voiced.duration > 0 else Span(span.start, span.start + min(
            span.duration, limit))
        current[issue.first] = Span(trimmed.start, min(trimmed.end, trimmed.start + limit))
        repaired[issue.first] = True
    suspect = np.zeros(len(spans), dtype=bool)
    for issue in issues:
        if issue.kind not in ("overlong", "out_of_bounds"):
            suspect[issue.first:issue.stop] = True
    for first, stop, bad in runs(suspect.tolist()):
        if not bad:
            continue
        first, stop, left, right = _room(current, suspect, first, stop, window, texts, voicing, settings)
        new = _realigned(realign, Span(left, right), first, stop, texts, voicing, settings) if realign else None
        if new is None:
            new = _interpolate(left, right, texts[first:stop])
        current[first:stop] = new
        for index in range(first, stop):
            repaired[index] = True
    return QcResult(tuple(current), tuple(repaired), tuple(issues))


def _room(current: list[Span], suspect: np.ndarray, first: int, stop: int, window: Span, texts: Sequence[str],
          voicing: Voicing | None, settings: QcSettings) -> tuple[int, int, float, float]:
    """Widen ``[first, stop)`` over neighbours until the time between its good neighbours can hold it."""
    while True:
        left = current[first - 1].end if first > 0 else window.start
        right = current[stop].start if stop < len(current) else window.end
        if voicing is not None and right > left:
            voiced = voicing.voiced_part(Span(left, right))
            if voiced is not None:
                left = voiced.start if first == 0 else left
                right = voiced.end if stop == len(current) else right
        if right - left >= settings.min_unit_duration * (stop - first) or (first == 0 and stop == len(current)):
            return first, stop, left, max(left, right)
        first, stop = max(0, first - 1), min(len(current), stop + 1)


def _interpolate(left: float, right: float, texts: Sequence[str]) -> list[Span]:
    """Contiguous spans over ``[left, right]`` in proportion to each unit's length."""
    weights = np.array([len(t) + 1 for t in texts], dtype=np.float64)
    edges = left + (right - left) * np.concatenate([[0.0], np.cumsum(weights) / weights.sum()])
    edges[-1] = right
    return [Span(float(a), float(max(a, b))) for a, b in itertools.pairwise(edges)]


def _realigned(realign: Realign, window: Span, first: int, stop: int, texts: Sequence[str],
               voicing: Voicing | None, settings: QcSettings) -> list[Span] | None:
    if stop - first < 2 or window.duration < settings.min_unit_duration * (stop - first):
        return None
    spans = realign(window, first, stop)
    if spans is None or len(spans) != stop - first:
        return None
    if any(issue.kind != "overlong" for issue in detect(spans, window, texts[first:stop], voicing, settings)):
        return None
    return [s.clamped(window.start, window.end) for s in spans]
