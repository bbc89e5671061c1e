"""Time containers: spans, speech regions and speaker turns, with the set operations stages share.

The model is pyannote.core's ``Segment`` / ``Timeline`` / ``Annotation``, made immutable: every operation returns a
new object. Times are seconds, absolute in the recording. Nothing here imports torch.

Crop modes (as in pyannote): ``"intersection"`` clips each item to the cropping span(s); ``"loose"`` keeps, whole,
every item that overlaps them; ``"strict"`` keeps only the items that lie entirely inside one of them. An item
*overlaps* when the two share a positive length: touching is not overlapping, so a zero-length item is dropped by
every mode.

:mod:`qasr_plugins.types` re-exports everything here; import from either.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, get_args

CropMode = Literal["intersection", "loose", "strict"]
EXCLUSIVE_TOLERANCE = 1e-6  # overlap (s) still allowed between consecutive turns of exclusive SpeakerTurns


def check_time(value: float, what: str) -> float:
    """``value`` as a finite float.

    Raises:
        ValueError: When it is NaN or infinite (the message names ``what``).
    """
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite, got {value!r}")
    return value


@dataclass(frozen=True, order=True)
class Span:
    """A time interval in seconds, absolute in the recording (``0 <= start <= end``)."""

    start: float
    end: float

    def __post_init__(self) -> None:
        start = check_time(self.start, "Span.start")
        end = check_time(self.end, "Span.end")
        if start < 0:
            raise ValueError(f"Span.start must be >= 0, got {start}")
        if end < start:
            raise ValueError(f"Span.end ({end}) must be >= Span.start ({start})")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.end - self.start

    @property
    def middle(self) -> float:
        """The time halfway between start and end."""
        return (self.start + self.end) / 2

    def overlap(self, other: Span) -> float:
        """Length of the intersection with ``other`` (0 when disjoint)."""
        return max(0.0, min(self.end, other.end) - max(self.start, other.start))

    def intersection(self, other: Span) -> Span | None:
        """The part shared with ``other``, or ``None`` when they share no positive length (touching spans)."""
        start, end = max(self.start, other.start), min(self.end, other.end)
        return Span(start, end) if end > start else None

    def contains(self, other: Span) -> bool:
        """Whether ``other`` lies entirely inside this span (edges included)."""
        return self.start <= other.start and other.end <= self.end

    def shifted(self, seconds: float) -> Span:
        """The span moved by ``seconds`` (negative: earlier).

        Raises:
            ValueError: When the start would become negative.
        """
        return Span(self.start + seconds, self.end + seconds)

    def clamped(self, lower: float, upper: float) -> Span:
        """The span forced into ``[lower, upper]`` (possibly zero-length at the nearer edge)."""
        start = min(max(self.start, lower), upper)
        return Span(start, min(max(self.end, start), upper))

    def to_dict(self) -> dict[str, float]:
        return {"start": self.start, "end": self.end}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Span:
        return cls(data["start"], data["end"])


def _check_collar(collar: float) -> float:
    collar = check_time(collar, "collar")
    if collar < 0:
        raise ValueError(f"collar must be >= 0, got {collar}")
    return collar


def _merged(spans: Iterable[Span], collar: float) -> list[Span]:
    """Sorted spans with overlapping or touching ones joined, and those separated by less than ``collar``."""
    out: list[Span] = []
    for span in sorted(spans):
        if out and (span.start <= out[-1].end or span.start - out[-1].end < collar):
            if span.end > out[-1].end:
                out[-1] = Span(out[-1].start, span.end)
        else:
            out.append(span)
    return out


def _cropped(spans: Sequence[Span], support: Span | SpeechRegions, mode: CropMode) -> Iterator[tuple[int, Span]]:
    """``(index, span)`` of what each of the sorted ``spans`` keeps when cropped to ``support`` in ``mode``."""
    if mode not in get_args(CropMode):
        raise ValueError(f"crop mode must be one of {', '.join(get_args(CropMode))}; got {mode!r}")
    windows = [support] if isinstance(support, Span) else list(support.support())
    ends = [w.end for w in windows]
    for index, span in enumerate(spans):
        for position in range(bisect.bisect_right(ends, span.start), len(windows)):
            window = windows[position]
            if window.start >= span.end:
                break
            piece = span.intersection(window)
            if piece is None:
                continue
            if mode == "intersection":
                yield index, piece
                continue
            if mode == "loose" or window.contains(span):
                yield index, span
            break  # loose: kept once; strict: no other (disjoint) window can hold it either


@dataclass(frozen=True)
class SpeechRegions:
    """Where somebody speaks: spans sorted by start (they may overlap until :meth:`support` merges them).

    Iterating yields the :class:`Span` s; ``len()`` counts them.
    """

    uri: str
    regions: tuple[Span, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "regions", tuple(sorted(self.regions)))

    def __iter__(self) -> Iterator[Span]:
        return iter(self.regions)

    def __len__(self) -> int:
        return len(self.regions)

    @property
    def duration(self) -> float:
        """Seconds covered by at least one region (overlapping regions count once)."""
        return sum(r.duration for r in _merged(self.regions, 0.0))

    @property
    def extent(self) -> Span | None:
        """From the earliest start to the latest end; ``None`` when there are no regions."""
        if not self.regions:
            return None
        return Span(self.regions[0].start, max(r.end for r in self.regions))

    def support(self, collar: float = 0.0) -> SpeechRegions:
        """The regions with overlapping or touching ones merged, and gaps shorter than ``collar`` filled.

        Args:
            collar: Gaps strictly shorter than this (s) are filled; a gap exactly ``collar`` long stays.

        Raises:
            ValueError: When ``collar`` is negative or not finite.
        """
        return replace(self, regions=tuple(_merged(self.regions, _check_collar(collar))))

    def crop(self, support: Span | SpeechRegions, mode: CropMode = "intersection") -> SpeechRegions:
        """The regions inside ``support`` (a span, or regions whose :meth:`support` is used).

        Args:
            support: Where to keep speech.
            mode: ``"intersection"`` clips regions to ``support``; ``"loose"`` keeps whole every region overlapping
                it; ``"strict"`` keeps only regions entirely inside it (see the module docstring).

        Raises:
            ValueError: For an unknown ``mode``.
        """
        return replace(self, regions=tuple(span for _, span in _cropped(self.regions, support, mode)))

    def shifted(self, seconds: float) -> SpeechRegions:
        """Every region moved by ``seconds``.

        Raises:
            ValueError: When a region would start before 0.
        """
        return replace(self, regions=tuple(r.shifted(seconds) for r in self.regions))

    def gaps(self, within: Span | None = None) -> SpeechRegions:
        """The silences: the parts of ``within`` (default: :attr:`extent`) that no region covers, each of positive
        length."""
        within = self.extent if within is None else within
        if within is None:
            return replace(self, regions=())
        found: list[Span] = []
        cursor = within.start
        for region in _merged(self.regions, 0.0):
            if region.duration == 0:
                continue
            if region.start >= within.end:
                break
            if region.start > cursor:
                found.append(Span(cursor, region.start))
            cursor = max(cursor, region.end)
        if cursor < within.end:
            found.append(Span(cursor, within.end))
        return replace(self, regions=tuple(found))

    def without_shorter(self, seconds: float) -> SpeechRegions:
        """The regions at least ``seconds`` long (shorter ones dropped)."""
        return replace(self, regions=tuple(r for r in self.regions if r.duration >= seconds))

    def to_dict(self) -> dict[str, Any]:
        return {"uri": self.uri, "regions": [r.to_dict() for r in self.regions]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SpeechRegions:
        return cls(data["uri"], tuple(Span.from_dict(r) for r in data["regions"]))


@dataclass(frozen=True, order=True)
class Turn:
    """One speaker talking over one span."""

    span: Span
    speaker: str

    def to_dict(self) -> dict[str, Any]:
        return {**self.span.to_dict(), "speaker": self.speaker}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Turn:
        return cls(Span.from_dict(data), str(data["speaker"]))


@dataclass(frozen=True)
class SpeakerTurns:
    """Speaker turns sorted by start. ``exclusive`` means no two turns overlap (up to
    :data:`EXCLUSIVE_TOLERANCE`).

    Iterating yields the :class:`Turn` s; ``len()`` counts them.
    """

    uri: str
    turns: tuple[Turn, ...] = ()
    exclusive: bool = False

    def __post_init__(self) -> None:
        turns = tuple(sorted(self.turns))
        object.__setattr__(self, "turns", turns)
        if self.exclusive:
            for previous, current in itertools.pairwise(turns):
                if current.span.start < previous.span.end - EXCLUSIVE_TOLERANCE:
                    raise ValueError(f"exclusive SpeakerTurns overlap: {previous} and {current}")

    def __iter__(self) -> Iterator[Turn]:
        return iter(self.turns)

    def __len__(self) -> int:
        return len(self.turns)

    @property
    def speakers(self) -> tuple[str, ...]:
        """The speaker labels, sorted."""
        return tuple(sorted({t.speaker for t in self.turns}))

    @property
    def duration(self) -> float:
        """Seconds in which at least one speaker talks (overlapped speech counts once)."""
        return self.speech().duration

    def speech(self) -> SpeechRegions:
        """Where anybody speaks: the union of all turns, merged."""
        return SpeechRegions(self.uri, tuple(t.span for t in self.turns)).support()

    def for_speaker(self, label: str) -> SpeechRegions:
        """The spans of ``label`` 's turns, as they are (empty for an unknown label)."""
        return SpeechRegions(self.uri, tuple(t.span for t in self.turns if t.speaker == label))

    def crop(self, support: Span | SpeechRegions, mode: CropMode = "intersection") -> SpeakerTurns:
        """The turns inside ``support``, each keeping its speaker; ``exclusive`` is kept.

        Args:
            support: A span, or regions whose :meth:`SpeechRegions.support` is used.
            mode: ``"intersection"``, ``"loose"`` or ``"strict"``, as for :meth:`SpeechRegions.crop`.

        Raises:
            ValueError: For an unknown ``mode``.
        """
        spans = [t.span for t in self.turns]
        return replace(self, turns=tuple(Turn(span, self.turns[index].speaker)
                                         for index, span in _cropped(spans, support, mode)))

    def shifted(self, seconds: float) -> SpeakerTurns:
        """Every turn moved by ``seconds``.

        Raises:
            ValueError: When a turn would start before 0.
        """
        return replace(self, turns=tuple(Turn(t.span.shifted(seconds), t.speaker) for t in self.turns))

    def support(self, collar: float = 0.0) -> SpeakerTurns:
        """Each speaker's overlapping or touching turns merged, and those separated by less than ``collar``.

        Exclusive turns stay exclusive: two turns of one speaker merge only when no other turn lies between them.

        Args:
            collar: Gaps strictly shorter than this (s) are filled; a gap exactly ``collar`` long stays.

        Raises:
            ValueError: When ``collar`` is negative or not finite.
        """
        collar = _check_collar(collar)
        if not self.exclusive:
            merged = [Turn(span, speaker) for speaker in self.speakers
                      for span in _merged((t.span for t in self.turns if t.speaker == speaker), collar)]
            return replace(self, turns=tuple(merged))
        out: list[Turn] = []
        for turn in self.turns:
            last = out[-1] if out else None
            if (last is not None and last.speaker == turn.speaker
                    and (turn.span.start <= last.span.end or turn.span.start - last.span.end < collar)):
                out[-1] = Turn(Span(last.span.start, max(last.span.end, turn.span.end)), turn.speaker)
            else:
                out.append(turn)
        return replace(self, turns=tuple(out))

    def relabel(self, mapping: Mapping[str, str]) -> SpeakerTurns:
        """The turns with speakers renamed through ``mapping``; labels it does not name are kept."""
        return replace(self, turns=tuple(Turn(t.span, mapping.get(t.speaker, t.speaker)) for t in self.turns))

    def to_dict(self) -> dict[str, Any]:
        return {"uri": self.uri, "exclusive": self.exclusive, "turns": [t.to_dict() for t in self.turns]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SpeakerTurns:
        return cls(data["uri"], tuple(Turn.from_dict(t) for t in data["turns"]), bool(data.get("exclusive")))


@dataclass(frozen=True)
class SpeakerEmbeddings:
    """Each diarized speaker's embedding, as the diarizer computed it (pyannote.audio 4's ``speaker_embeddings``).

    ``space`` names the encoder that made the vectors: embeddings are comparable only within one space, so a stage
    that compares them with its own (e.g. enrolled speakers') checks that its encoder reports the same space.
    """

    space: str
    speakers: tuple[str, ...]
    vectors: tuple[tuple[float, ...], ...]

    def __post_init__(self) -> None:
        if len(self.speakers) != len(self.vectors) or len(set(self.speakers)) != len(self.speakers):
            raise ValueError("SpeakerEmbeddings needs one vector per speaker and each speaker once")
        if len({len(v) for v in self.vectors}) > 1:
            raise ValueError("SpeakerEmbeddings' vectors must all have the same dimension")
        for vector in self.vectors:
            for value in vector:
                check_time(value, "a speaker embedding's value")

    @classmethod
    def of(cls, space: str, vectors: Mapping[str, Sequence[float]]) -> SpeakerEmbeddings:
        """From a mapping speaker label → vector (any sequence of numbers, e.g. a numpy row)."""
        return cls(space, tuple(vectors), tuple(tuple(float(x) for x in v) for v in vectors.values()))

    def as_dict(self) -> dict[str, tuple[float, ...]]:
        return dict(zip(self.speakers, self.vectors, strict=True))

    def relabel(self, mapping: Mapping[str, str]) -> SpeakerEmbeddings:
        """The embeddings with speakers renamed through ``mapping`` (labels it does not name are kept); speakers
        renamed to one label are merged into the mean of their vectors."""
        merged: dict[str, list[tuple[float, ...]]] = {}
        for speaker, vector in zip(self.speakers, self.vectors, strict=True):
            merged.setdefault(mapping.get(speaker, speaker), []).append(vector)
        return SpeakerEmbeddings.of(self.space, {s: [math.fsum(column) / len(vs) for column in zip(*vs, strict=True)]
                                                 for s, vs in merged.items()})

    def to_dict(self) -> dict[str, Any]:
        return {"space": self.space, "vectors": {s: list(v) for s, v in self.as_dict().items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SpeakerEmbeddings:
        return cls.of(str(data["space"]), data["vectors"])


@dataclass(frozen=True)
class Diarization:
    """What a diarization stage returns: the regular turns (overlaps kept) and, when the diarizer provides
    them, exclusive turns (at most one speaker at a time) that suit word attribution best, and its speakers'
    embeddings (:class:`SpeakerEmbeddings`)."""

    turns: SpeakerTurns
    exclusive: SpeakerTurns | None = None
    embeddings: SpeakerEmbeddings | None = None

    def __post_init__(self) -> None:
        if self.turns.exclusive and self.exclusive is None:
            object.__setattr__(self, "exclusive", self.turns)
        if self.exclusive is not None and not self.exclusive.exclusive:
            raise ValueError("Diarization.exclusive must be SpeakerTurns with exclusive=True")

    @property
    def uri(self) -> str:
        return self.turns.uri

    @property
    def best(self) -> SpeakerTurns:
        """The exclusive turns when present (even if empty), else the regular ones."""
        return self.turns if self.exclusive is None else self.exclusive

    def crop(self, support: Span | SpeechRegions, mode: CropMode = "intersection") -> Diarization:
        """Both sets of turns cropped to ``support`` (see :meth:`SpeakerTurns.crop`); the embeddings kept."""
        return replace(self, turns=self.turns.crop(support, mode),
                       exclusive=None if self.exclusive is None else self.exclusive.crop(support, mode))

    def shifted(self, seconds: float) -> Diarization:
        """Both sets of turns moved by ``seconds``."""
        return replace(self, turns=self.turns.shifted(seconds),
                       exclusive=None if self.exclusive is None else self.exclusive.shifted(seconds))

    def relabel(self, mapping: Mapping[str, str]) -> Diarization:
        """Speakers renamed through ``mapping`` everywhere (turns, exclusive turns, embeddings)."""
        return Diarization(self.turns.relabel(mapping),
                           None if self.exclusive is None else self.exclusive.relabel(mapping),
                           None if self.embeddings is None else self.embeddings.relabel(mapping))

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"turns": self.turns.to_dict(),
                                "exclusive": None if self.exclusive is None else self.exclusive.to_dict()}
        if self.embeddings is not None:
            data["embeddings"] = self.embeddings.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Diarization:
        exclusive, embeddings = data.get("exclusive"), data.get("embeddings")
        return cls(SpeakerTurns.from_dict(data["turns"]),
                   None if exclusive is None else SpeakerTurns.from_dict(exclusive),
                   None if embeddings is None else SpeakerEmbeddings.from_dict(embeddings))


__all__ = ["EXCLUSIVE_TOLERANCE", "CropMode", "Diarization", "Span", "SpeakerEmbeddings", "SpeakerTurns",
           "SpeechRegions", "Turn", "check_time"]
