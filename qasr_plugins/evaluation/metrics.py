"""The metrics of one reference/hypothesis pair. Error counts are kept so that aggregates are micro-averages.

* DER / JER: pyannote.metrics (collar, skip-overlap, UEM as given).
* WER: jiwer's Levenshtein alignment of the normalised tokens (:mod:`.normalize`).
* cpWER (concatenated minimum-permutation WER, CHiME-6): each speaker's tokens concatenated, speakers paired to
  minimise the total errors (Hungarian algorithm); unpaired speakers count all their tokens as errors.
* WDER (word diarization error rate, Shafey et al. 2019): over the tokens the ASR alignment pairs (correct and
  substituted), the fraction whose hypothesis speaker, under the best one-to-one speaker mapping, differs from
  the reference speaker.
* Word-boundary shift: for tokens aligned as equal whose words are each one token, the absolute start and end
  differences; mean, median and the share of boundaries within the tolerance (80 ms by default).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qasr_plugins.evaluation.normalize import normalize
from qasr_plugins.evaluation.readers import EvalWord
from qasr_plugins.types import Turn


@dataclass(frozen=True)
class Token:
    text: str
    start: float | None
    end: float | None
    speaker: str | None
    whole: bool  # its word normalised to this single token


def tokens(words: Sequence[EvalWord]) -> list[Token]:
    out: list[Token] = []
    for word in words:
        parts = normalize(word.text)
        out.extend(Token(p, word.start, word.end, word.speaker, len(parts) == 1) for p in parts)
    return out


@dataclass(frozen=True)
class Counts:
    """Edit operations of an alignment."""

    hits: int = 0
    substitutions: int = 0
    deletions: int = 0
    insertions: int = 0

    @property
    def reference(self) -> int:
        return self.hits + self.substitutions + self.deletions

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.hits + other.hits, self.substitutions + other.substitutions,
                      self.deletions + other.deletions, self.insertions + other.insertions)

    def rate(self) -> float | None:
        if self.reference == 0:
            return None if self.errors == 0 else float("inf")
        return self.errors / self.reference

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.rate(), "hits": self.hits, "substitutions": self.substitutions,
                "deletions": self.deletions, "insertions": self.insertions, "reference_words": self.reference}


Pairs = list[tuple[int, int]]


def align(ref: Sequence[str], hyp: Sequence[str]) -> tuple[Counts, Pairs, Pairs]:
    """Counts, the (ref, hyp) index pairs aligned as equal, and those aligned as substitutions."""
    if not ref or not hyp:
        return Counts(deletions=len(ref), insertions=len(hyp)), [], []
    import jiwer

    output = jiwer.process_words(" ".join(ref), " ".join(hyp))
    equal: Pairs = []
    substituted: Pairs = []
    for chunk in output.alignments[0]:
        if chunk.type in ("equal", "substitute"):
            target = equal if chunk.type == "equal" else substituted
            target.extend(zip(range(chunk.ref_start_idx, chunk.ref_end_idx),
                              range(chunk.hyp_start_idx, chunk.hyp_end_idx), strict=True))
    return Counts(output.hits, output.substitutions, output.deletions, output.insertions), equal, substituted


def wer(ref: Sequence[Token], hyp: Sequence[Token]) -> Counts:
    return align([t.text for t in ref], [t.text for t in hyp])[0]


def _by_speaker(items: Sequence[Token]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for token in items:
        groups.setdefault(token.speaker or "", []).append(token.text)
    return groups


def cpwer(ref: Sequence[Token], hyp: Sequence[Token]) -> Counts:
    """Errors under the speaker pairing that minimises them (unpaired speakers: all deleted / inserted)."""
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    refs, hyps = list(_by_speaker(ref).values()), list(_by_speaker(hyp).values())
    size = max(len(refs), len(hyps))
    table: dict[tuple[int, int], Counts] = {}
    cost = np.zeros((size, size))
    for i in range(size):
        for j in range(size):
            counts = align(refs[i] if i < len(refs) else [], hyps[j] if j < len(hyps) else [])[0]
            table[i, j] = counts
            cost[i, j] = counts.errors
    rows, cols = linear_sum_assignment(cost)
    total = Counts()
    for i, j in zip(rows, cols, strict=True):
        total = total + table[int(i), int(j)]
    return total


@dataclass(frozen=True)
class Wder:
    wrong: int
    paired: int

    def rate(self) -> float | None:
        return self.wrong / self.paired if self.paired else None

    def __add__(self, other: Wder) -> Wder:
        return Wder(self.wrong + other.wrong, self.paired + other.paired)

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.rate(), "wrong_speaker": self.wrong, "paired_words": self.paired}


def wder(ref: Sequence[Token], hyp: Sequence[Token]) -> Wder:
    """Word diarization error rate over tokens aligned as correct or substituted."""
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    _, equal, substituted = align([t.text for t in ref], [t.text for t in hyp])
    pairs = [(ref[i].speaker or "", hyp[j].speaker or "") for i, j in equal + substituted]
    if not pairs:
        return Wder(0, 0)
    ref_speakers = sorted({r for r, _ in pairs})
    hyp_speakers = sorted({h for _, h in pairs})
    agree = np.zeros((len(ref_speakers), len(hyp_speakers)))
    for r, h in pairs:
        agree[ref_speakers.index(r), hyp_speakers.index(h)] += 1
    rows, cols = linear_sum_assignment(agree, maximize=True)
    correct = int(sum(agree[i, j] for i, j in zip(rows, cols, strict=True)))
    return Wder(len(pairs) - correct, len(pairs))


@dataclass(frozen=True)
class Shift:
    """Absolute boundary differences (seconds) of matched words."""

    starts: tuple[float, ...]
    ends: tuple[float, ...]
    tolerance: float

    def __add__(self, other: Shift) -> Shift:
        return Shift(self.starts + other.starts, self.ends + other.ends, self.tolerance)

    def to_dict(self) -> dict[str, Any]:
        import numpy as np

        if not self.starts:
            return {"matched_words": 0, "mean_start": None, "median_start": None, "mean_end": None,
                    "median_end": None, "within": None, "tolerance": self.tolerance}
        starts, ends = np.array(self.starts), np.array(self.ends)
        both = np.concatenate([starts, ends])
        return {"matched_words": len(self.starts), "mean_start": float(starts.mean()),
                "median_start": float(np.median(starts)), "mean_end": float(ends.mean()),
                "median_end": float(np.median(ends)), "within": float((both <= self.tolerance + 1e-9).mean() * 100),
                "tolerance": self.tolerance}


def boundary_shift(ref: Sequence[Token], hyp: Sequence[Token], tolerance: float) -> Shift:
    _, equal, _ = align([t.text for t in ref], [t.text for t in hyp])
    starts: list[float] = []
    ends: list[float] = []
    for i, j in equal:
        r, h = ref[i], hyp[j]
        if r.whole and h.whole and None not in (r.start, r.end, h.start, h.end):
            starts.append(abs(r.start - h.start))  # type: ignore[operator]
            ends.append(abs(r.end - h.end))  # type: ignore[operator]
    return Shift(tuple(starts), tuple(ends), tolerance)


def annotation(uri: str, turns: Sequence[Turn]) -> Any:
    """A pyannote ``Annotation`` of the turns."""
    from pyannote.core import Annotation, Segment

    result = Annotation(uri=uri)
    for index, turn in enumerate(turns):
        result[Segment(turn.span.start, turn.span.end), index] = turn.speaker
    return result
