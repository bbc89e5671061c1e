"""The data model shared by every stage: frozen, typed, seconds absolute in the recording.

Nothing here imports torch. Every type validates its invariants on construction and converts losslessly
to and from plain JSON-ready dicts (see :mod:`qasr_plugins.document` for the versioned file format).
The time containers (:class:`Span`, :class:`SpeechRegions`, :class:`Turn`, :class:`SpeakerTurns`,
:class:`Diarization`) and their operations live in :mod:`qasr_plugins.timeline` and are re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from qasr_plugins.languages import is_spaceless
from qasr_plugins.rich import HtmlView, transcript_html, transcript_repr
from qasr_plugins.timeline import (
    CropMode,
    Diarization,
    Span,
    SpeakerEmbeddings,
    SpeakerTurns,
    SpeechRegions,
    Turn,
    check_time,
)

SAMPLE_RATE = 16_000
WordUnit = Literal["word", "char"]


@dataclass(frozen=True, eq=False)
class Audio:
    """Mono float32 audio at :data:`SAMPLE_RATE`.

    ``offset`` is where ``waveform[0]`` lies in the recording, so spans derived from this audio are absolute.
    ``duration`` of the recording is ``offset + len(waveform) / sample_rate`` at most. ``warnings`` are what the
    decoder found doubtful about the file (e.g. a header declaring less audio than the file holds).
    """

    uri: str
    waveform: np.ndarray
    sample_rate: int = SAMPLE_RATE
    offset: float = 0.0
    path: str | None = None
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        wave = np.asarray(self.waveform)
        if wave.ndim != 1:
            raise ValueError(f"Audio.waveform must be 1-D (mono), got shape {wave.shape}")
        if wave.dtype != np.float32:
            wave = wave.astype(np.float32)
        object.__setattr__(self, "waveform", wave)
        object.__setattr__(self, "offset", check_time(self.offset, "Audio.offset"))
        if self.sample_rate <= 0:
            raise ValueError(f"Audio.sample_rate must be positive, got {self.sample_rate}")

    @property
    def duration(self) -> float:
        """Length of the waveform in seconds."""
        return len(self.waveform) / self.sample_rate

    @property
    def span(self) -> Span:
        """The part of the recording this waveform covers."""
        return Span(self.offset, self.offset + self.duration)

    def crop(self, span: Span) -> Audio:
        """The audio inside ``span`` (absolute seconds), keeping absolute time through ``offset``."""
        first = max(0, round((span.start - self.offset) * self.sample_rate))
        last = min(len(self.waveform), max(first, round((span.end - self.offset) * self.sample_rate)))
        return replace(self, waveform=self.waveform[first:last], offset=self.offset + first / self.sample_rate)

    def to_pyannote(self) -> dict[str, Any]:
        """pyannote's in-memory form: ``{"waveform": (1, T) tensor, "sample_rate", "uri"}`` (imports torch)."""
        import torch

        return {"waveform": torch.from_numpy(self.waveform).unsqueeze(0), "sample_rate": self.sample_rate,
                "uri": self.uri}


def _optional_span(data: Mapping[str, Any]) -> Span | None:
    return None if data.get("start") is None else Span(data["start"], data["end"])


@dataclass(frozen=True)
class Word:
    """A timed unit of a transcript: a word, or one character for CJK text (``unit="char"``).

    ``flags`` record what a stage noticed or changed, e.g. ``"overlap"``, ``"repaired"``, ``"untimed"``.
    ``speakers`` lists every speaker active during the word when it lies in overlapped speech.
    """

    text: str
    span: Span | None = None
    speaker: str | None = None
    confidence: float | None = None
    unit: WordUnit = "word"
    flags: tuple[str, ...] = ()
    speakers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.unit not in ("word", "char"):
            raise ValueError(f"Word.unit must be 'word' or 'char', got {self.unit!r}")
        if self.confidence is not None and not math.isfinite(self.confidence):
            raise ValueError(f"Word.confidence must be finite, got {self.confidence!r}")
        object.__setattr__(self, "flags", tuple(self.flags))
        object.__setattr__(self, "speakers", tuple(self.speakers))

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "start": None if self.span is None else self.span.start,
                "end": None if self.span is None else self.span.end, "speaker": self.speaker,
                "confidence": self.confidence, "unit": self.unit, "flags": list(self.flags),
                "speakers": list(self.speakers)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Word:
        return cls(data["text"], _optional_span(data), data.get("speaker"), data.get("confidence"),
                   data.get("unit", "word"), tuple(data.get("flags", ())), tuple(data.get("speakers", ())))


@dataclass(frozen=True)
class TokenLogprob:
    """One decoded token and its log-probability, as OpenAI's transcription ``logprobs`` reports them: ``token`` is
    its text, ``bytes`` its UTF-8 bytes (a token may hold part of a character)."""

    token: str
    logprob: float
    bytes: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not math.isfinite(self.logprob) or self.logprob > 0:
            raise ValueError(f"TokenLogprob.logprob must be finite and <= 0, got {self.logprob!r}")
        object.__setattr__(self, "bytes", tuple(self.bytes))

    def to_dict(self) -> dict[str, Any]:
        return {"token": self.token, "logprob": self.logprob, "bytes": list(self.bytes)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TokenLogprob:
        return cls(data["token"], data["logprob"], tuple(data.get("bytes", ())))


@dataclass(frozen=True)
class TranscriptSegment:
    """A stretch of recognised speech.

    ``language`` is a BCP-47 tag (``"en"``, ``"zh"``, ``"yue"``); ``language_raw`` keeps what the model said
    (e.g. Qwen3-ASR's ``"Chinese,English"`` for code-switching). ``words`` may be empty before alignment.
    ``tokens`` are the decoded tokens of ``text`` with their log-probabilities, when the ASR stage records them.
    """

    span: Span
    text: str
    language: str | None = None
    language_raw: str | None = None
    language_confidence: float | None = None
    speaker: str | None = None
    words: tuple[Word, ...] = ()
    flags: tuple[str, ...] = ()
    tokens: tuple[TokenLogprob, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "words", tuple(self.words))
        object.__setattr__(self, "flags", tuple(self.flags))
        object.__setattr__(self, "tokens", tuple(self.tokens))

    def to_dict(self) -> dict[str, Any]:
        data = {**self.span.to_dict(), "text": self.text, "language": self.language,
                "language_raw": self.language_raw, "language_confidence": self.language_confidence,
                "speaker": self.speaker, "flags": list(self.flags), "words": [w.to_dict() for w in self.words]}
        return data | {"tokens": [t.to_dict() for t in self.tokens]} if self.tokens else data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TranscriptSegment:
        return cls(Span.from_dict(data), data["text"], data.get("language"), data.get("language_raw"),
                   data.get("language_confidence"), data.get("speaker"),
                   tuple(Word.from_dict(w) for w in data.get("words", ())), tuple(data.get("flags", ())),
                   tuple(TokenLogprob.from_dict(t) for t in data.get("tokens", ())))


@dataclass(frozen=True)
class Transcript:
    """The segments recognised in one recording, sorted by start."""

    uri: str
    segments: tuple[TranscriptSegment, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "segments", tuple(sorted(self.segments, key=lambda s: (s.span.start, s.span.end))))

    @property
    def text(self) -> str:
        """The segments' texts in order, stripped, empty ones left out: two neighbours both in a language written
        without spaces (Chinese, Cantonese, Japanese) are joined directly, any other two by one space."""
        text = ""
        previous_spaceless = False
        for segment in self.segments:
            piece = segment.text.strip()
            if not piece:
                continue
            spaceless = is_spaceless(segment.language)
            if text and not (spaceless and previous_spaceless):
                text += " "
            text += piece
            previous_spaceless = spaceless
        return text

    def words(self) -> Iterator[Word]:
        for segment in self.segments:
            yield from segment.words

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(sorted({s.language for s in self.segments if s.language}))

    def show(self, *, words: bool = False) -> HtmlView:
        """A view for Jupyter: a table of the segments (each word, coloured by its speaker, with ``words``)."""
        return HtmlView(transcript_html(self, words=words), transcript_repr(self))

    def _repr_html_(self) -> str:
        return transcript_html(self)

    def __repr__(self) -> str:
        return transcript_repr(self)

    def to_dict(self) -> dict[str, Any]:
        return {"uri": self.uri, "segments": [s.to_dict() for s in self.segments]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Transcript:
        return cls(data["uri"], tuple(TranscriptSegment.from_dict(s) for s in data["segments"]))


@dataclass(frozen=True)
class StageRecord:
    """Provenance of one stage's contribution to a result."""

    node: str
    kind: str
    name: str
    distribution: str | None = None
    version: str | None = None
    model: str | None = None
    config_hash: str | None = None
    wall_time: float = 0.0
    settings: Mapping[str, Any] = field(default_factory=dict)
    #: What the stage cache did: ``"hit"`` (the output was reused), ``"miss"`` (computed and stored),
    #: ``"uncacheable"`` (computed; the stage is never cached); ``None`` when the run had no cache.
    cache: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {"node": self.node, "kind": self.kind, "name": self.name, "distribution": self.distribution,
                "version": self.version, "model": self.model, "config_hash": self.config_hash,
                "wall_time": self.wall_time, "settings": dict(self.settings)}
        return data | {"cache": self.cache} if self.cache is not None else data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StageRecord:
        return cls(data["node"], data["kind"], data["name"], data.get("distribution"), data.get("version"),
                   data.get("model"), data.get("config_hash"), float(data.get("wall_time", 0.0)),
                   dict(data.get("settings", {})), data.get("cache"))


__all__ = ["SAMPLE_RATE", "Audio", "CropMode", "Diarization", "Span", "SpeakerEmbeddings", "SpeakerTurns",
           "SpeechRegions", "StageRecord", "TokenLogprob", "Transcript", "TranscriptSegment", "Turn", "Word", "WordUnit"]
