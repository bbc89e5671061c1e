"""``max_overlap`` attribution: each word goes to the speaker whose turns overlap it most.

Policies (all in :class:`MaxOverlapConfig`):

* Words are matched against the *exclusive* turns when the diarizer provides them (``prefer_exclusive``), else
  against the regular turns. Overlap is summed per speaker; ties go to the speaker whose turn starts first.
* A word that overlaps no turn (in a gap, or of zero length) goes to the nearest turn when it lies within
  ``gap_tolerance`` seconds, and is flagged ``"nearest"``; otherwise it keeps no speaker.
* Overlapped speech is found on the *regular* turns: a word that shares at least ``min_overlap`` seconds with a
  stretch where two or more speakers talk is flagged ``"overlap"`` and lists every speaker active there in
  ``Word.speakers``.
* With ``split_segments`` a segment is cut where the speaker changes, at word boundaries; each word keeps the
  punctuation that follows it. Words without a speaker stay with the words before them.
* A segment without timed words is attributed as a whole from its own span. A segment (or run) that gets no
  speaker keeps the one it had, e.g. from an ASR stage that transcribed per diarization turn.

The work is a sorted sweep: words and turns are each visited once in time order, so a 3-hour recording with
30 000 words and thousands of turns takes a fraction of a second (``benchmarks/bench_attribution.py``).
Without diarization the transcript passes through unchanged.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, replace

from pydantic import Field

from qasr_plugins.stage import AttributionInput, AttributionStage, StageConfig
from qasr_plugins.text import word_pieces
from qasr_plugins.tuning import uniform
from qasr_plugins.types import Diarization, Span, Transcript, TranscriptSegment, Turn, Word

OVERLAP_FLAG = "overlap"
NEAREST_FLAG = "nearest"


class MaxOverlapConfig(StageConfig):
    """Settings of the ``max_overlap`` attribution stage."""

    prefer_exclusive: bool = True
    gap_tolerance: float = Field(0.5, ge=0.0, le=10.0, json_schema_extra=uniform(0.0, 2.0),
                                 description="Seconds within which a word in a gap takes the nearest turn's "
                                 "speaker.")
    min_overlap: float = Field(0.0, ge=0.0, le=10.0, json_schema_extra=uniform(0.0, 0.5),
                               description="Seconds of overlapped speech a word must share to be flagged "
                               "'overlap' (0: any).")
    flag_overlap: bool = True
    split_segments: bool = True


@dataclass(frozen=True)
class _Assignment:
    speaker: str | None
    nearest: bool = False
    overlapped: tuple[str, ...] = ()


class _TurnIndex:
    """Turns sorted by start, with a running maximum of ends for nearest-turn look-ups."""

    def __init__(self, turns: Sequence[Turn]) -> None:
        self.turns = sorted(turns, key=lambda t: (t.span.start, t.span.end))
        self.starts = [t.span.start for t in self.turns]
        self.max_end: list[int] = []  # index of the turn with the largest end among turns[: i + 1]
        best = -1
        for i, turn in enumerate(self.turns):
            if best < 0 or turn.span.end > self.turns[best].span.end:
                best = i
            self.max_end.append(best)

    def nearest(self, span: Span, tolerance: float) -> Turn | None:
        """The turn closest to ``span`` (distance between edges), if within ``tolerance``."""
        candidates: list[tuple[float, int]] = []
        before = bisect.bisect_right(self.starts, span.start) - 1
        if before >= 0:
            turn = self.turns[self.max_end[before]]
            candidates.append((max(0.0, span.start - turn.span.end), self.max_end[before]))
        after = bisect.bisect_left(self.starts, span.start)
        if after < len(self.turns):
            candidates.append((max(0.0, self.turns[after].span.start - span.end), after))
        if not candidates:
            return None
        distance, index = min(candidates)
        return self.turns[index] if distance <= tolerance else None


def _sweep(spans: Sequence[Span], turns: Sequence[Turn]) -> list[list[tuple[Turn, float]]]:
    """For each span, the turns overlapping it with the overlap length, in one pass over both sorted lists."""
    order = sorted(range(len(spans)), key=lambda i: spans[i].start)
    result: list[list[tuple[Turn, float]]] = [[] for _ in spans]
    active: list[Turn] = []
    next_turn = 0
    for i in order:
        span = spans[i]
        while next_turn < len(turns) and turns[next_turn].span.start < span.end:
            active.append(turns[next_turn])
            next_turn += 1
        active = [t for t in active if t.span.end > span.start]
        result[i] = [(t, ov) for t in active if (ov := span.overlap(t.span)) > 0]
    return result


def _overlapped_regions(turns: Sequence[Turn]) -> list[tuple[Span, frozenset[str]]]:
    """Stretches where two or more speakers are active, with those speakers, sorted and disjoint."""
    events = sorted([(t.span.start, 1, t.speaker) for t in turns] + [(t.span.end, -1, t.speaker) for t in turns],
                    key=lambda e: (e[0], e[1]))
    counts: dict[str, int] = {}
    regions: list[tuple[Span, frozenset[str]]] = []
    previous: float | None = None
    for time, delta, speaker in events:
        active = frozenset(s for s, n in counts.items() if n > 0)
        if previous is not None and time > previous and len(active) >= 2:
            if regions and regions[-1][0].end == previous and regions[-1][1] == active:
                regions[-1] = (Span(regions[-1][0].start, time), active)
            else:
                regions.append((Span(previous, time), active))
        counts[speaker] = counts.get(speaker, 0) + delta
        previous = time
    return regions


def _best_speaker(matches: Sequence[tuple[Turn, float]]) -> str | None:
    totals: dict[str, float] = {}
    first: dict[str, float] = {}
    for turn, overlap in matches:
        totals[turn.speaker] = totals.get(turn.speaker, 0.0) + overlap
        first[turn.speaker] = min(first.get(turn.speaker, turn.span.start), turn.span.start)
    if not totals:
        return None
    return min(totals, key=lambda s: (-totals[s], first[s], s))


class MaxOverlapAttribution(AttributionStage):
    """Assigns each word (or untimed segment) the speaker of maximum time overlap; see the module docstring."""

    config: MaxOverlapConfig

    def process(self, batch: Sequence[AttributionInput]) -> list[Transcript]:
        return [self.attribute(item.transcript, item.diarization) for item in batch]

    def attribute(self, transcript: Transcript, diarization: Diarization | None) -> Transcript:
        """Speaker-attribute one transcript (unchanged without diarization)."""
        if diarization is None:
            return transcript
        config = self.config
        chosen = diarization.best if config.prefer_exclusive else diarization.turns
        index = _TurnIndex(tuple(chosen))
        overlaps = _overlapped_regions(tuple(diarization.turns)) if config.flag_overlap else []

        units: list[Span] = []  # what gets a speaker: timed words, or whole segments without timed words
        for segment in transcript.segments:
            timed = [w.span for w in segment.words if w.span is not None]
            units.extend(timed if timed else [segment.span])
        assignments = self._assign(units, index, overlaps, config)

        segments: list[TranscriptSegment] = []
        cursor = 0
        for segment in transcript.segments:
            if not any(w.span is not None for w in segment.words):
                found = assignments[cursor]
                cursor += 1
                flags = segment.flags + ((OVERLAP_FLAG,) if found.overlapped and OVERLAP_FLAG not in segment.flags
                                         else ())
                segments.append(replace(segment, speaker=found.speaker or segment.speaker, flags=flags))
                continue
            words: list[Word] = []
            for word in segment.words:
                if word.span is None:
                    words.append(word)
                    continue
                words.append(_apply(word, assignments[cursor]))
                cursor += 1
            segments.extend(_split(replace(segment, words=tuple(words)), config.split_segments))
        return replace(transcript, segments=tuple(segments))

    @staticmethod
    def _assign(units: Sequence[Span], index: _TurnIndex, overlaps: Sequence[tuple[Span, frozenset[str]]],
                config: MaxOverlapConfig) -> list[_Assignment]:
        matches = _sweep(units, index.turns)
        overlap_turns = [Turn(span, str(i)) for i, (span, _) in enumerate(overlaps)]  # speaker = region index
        overlap_matches = _sweep(units, overlap_turns) if overlap_turns else [[] for _ in units]
        result: list[_Assignment] = []
        for span, found, shared in zip(units, matches, overlap_matches, strict=True):
            speaker = _best_speaker(found)
            nearest = False
            if speaker is None:
                turn = index.nearest(span, config.gap_tolerance)
                speaker, nearest = (turn.speaker, True) if turn is not None else (None, False)
            overlapped: tuple[str, ...] = ()
            if shared and sum(ov for _, ov in shared) >= max(config.min_overlap, 1e-9):
                overlapped = tuple(sorted(set().union(*(overlaps[int(turn.speaker)][1] for turn, _ in shared))))
            result.append(_Assignment(speaker, nearest, overlapped))
        return result


def _apply(word: Word, found: _Assignment) -> Word:
    flags = list(word.flags)
    for flag, wanted in ((NEAREST_FLAG, found.nearest), (OVERLAP_FLAG, bool(found.overlapped))):
        if wanted and flag not in flags:
            flags.append(flag)
    return replace(word, speaker=found.speaker, flags=tuple(flags), speakers=found.overlapped or word.speakers)


def _split(segment: TranscriptSegment, split: bool) -> list[TranscriptSegment]:
    """Cut ``segment`` where its words' speaker changes; untimed or unattributed words join the run before."""
    runs: list[list[int]] = []
    speakers: list[str | None] = []
    for i, word in enumerate(segment.words):
        if runs and (word.speaker is None or word.speaker == speakers[-1] or not split):
            runs[-1].append(i)
            if speakers[-1] is None:
                speakers[-1] = word.speaker
        else:
            runs.append([i])
            speakers.append(word.speaker)
    if len(runs) <= 1:
        return [replace(segment, speaker=_majority(segment.words) or segment.speaker)]
    pieces = word_pieces(segment.text, segment.words)
    out: list[TranscriptSegment] = []
    for n, (run, speaker) in enumerate(zip(runs, speakers, strict=True)):
        words = tuple(segment.words[i] for i in run)
        timed = [w.span for w in words if w.span is not None]
        start = segment.span.start if n == 0 else min(s.start for s in timed)
        end = segment.span.end if n == len(runs) - 1 else max(s.end for s in timed)
        text = "".join(pieces[i].text + (pieces[i].gap if i != run[-1] else "") for i in run)
        out.append(replace(segment, span=Span(start, max(start, end)), text=text, speaker=speaker, words=words))
    return out


def _majority(words: Sequence[Word]) -> str | None:
    totals: dict[str, float] = {}
    for word in words:
        if word.speaker is not None:
            totals[word.speaker] = totals.get(word.speaker, 0.0) + (word.span.duration if word.span else 0.0) + 1e-6
    return max(totals, key=lambda s: (totals[s], s)) if totals else None
