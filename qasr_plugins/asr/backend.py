"""What an ASR backend is to the shared flow: its limits, the pieces it is given and what it answers.

A backend transcribes batches of :class:`Piece`; everything else — which parts of a file to transcribe, cutting long
ones at quiet points, batching across files, offsets, speakers, one :class:`~qasr_plugins.types.Transcript` per
input — is :func:`qasr_plugins.asr.flow.transcribe_inputs`'s, identically for every backend.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from qasr_plugins.asr.chunks import ChunkLimits
from qasr_plugins.types import Audio, Span, TokenLogprob, Word


@dataclass(frozen=True)
class AsrLimits:
    """What a backend accepts and how the flow feeds it.

    Attributes:
        chunks: The longest piece and how longer ones are cut at quiet points (``max_seconds`` may be ``math.inf``).
        shortest: Pieces shorter than this (s) are zero-padded to it (``pad_short``) or dropped.
        pad_short: Pad short pieces (their span stays the real one) instead of dropping them.
        batch_size: Most pieces per :meth:`AsrBackend.transcribe` call.
        batch_seconds: Most audio (s) per call: the budget of models whose cost grows with the input's length (Qwen3's
            encoder gives about 13 tokens a second).
        merge_gap: Join one speaker's neighbouring pieces across pauses shorter than this (s) while the joined piece
            stays within the longest; ``None`` joins nothing.
        context: Audio (s) added on both sides of every piece, never reaching into a neighbouring piece; what the
            backend hears there is kept (clamped to the widened piece).
        find_speech: With neither turns nor regions wired, transcribe only the speech an energy detector finds
            instead of the whole file.
    """

    chunks: ChunkLimits = field(default_factory=ChunkLimits)
    shortest: float = 0.0
    pad_short: bool = False
    batch_size: int = 8
    batch_seconds: float = math.inf
    merge_gap: float | None = None
    context: float = 0.0
    find_speech: bool = False

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.batch_seconds <= 0 or self.shortest < 0 or self.context < 0:
            raise ValueError("AsrLimits needs batch_size >= 1, batch_seconds > 0, shortest >= 0 and context >= 0")


@dataclass(frozen=True)
class Language:
    """A piece's language: BCP-47 ``tag``, the model's own ``raw`` name and the identification's ``confidence``
    (``None`` when forced or not identified)."""

    tag: str | None = None
    raw: str | None = None
    confidence: float | None = None


@dataclass(frozen=True, eq=False)
class Piece:
    """One stretch of one input to transcribe.

    Attributes:
        item: Index of its input in the batch.
        span: What the backend decodes (context included), absolute in the recording.
        speaker: The turn's speaker, when the piece comes from diarization.
        audio: ``recording`` cropped to ``span`` (zero-padded at the end when the backend pads short pieces).
        recording: The input's whole audio, for backends that read it themselves.
        language: The recording's language, when the backend identified it once for the whole recording.
    """

    item: int
    span: Span
    speaker: str | None
    audio: Audio
    recording: Audio
    language: Language | None = None

    @property
    def waveform(self) -> np.ndarray:
        """The samples the backend decodes."""
        return self.audio.waveform

    @property
    def seconds(self) -> float:
        """Length of the decoded audio (padding included)."""
        return self.audio.duration


@dataclass(frozen=True)
class Heard:
    """A stretch of text heard in a piece; spans are seconds from the piece's start (``span.start``).

    Attributes:
        text: The recognised text.
        span: Where in the piece; ``None`` for the whole piece.
        words: Its words, spans relative like ``span`` (``None`` when untimed); speakers are the flow's to set.
        flags: What the backend noticed (e.g. ``truncated``, ``repetition``).
        tokens: The decoded tokens of ``text`` with their log-probabilities, when the backend records them.
    """

    text: str
    span: Span | None = None
    words: tuple[Word, ...] = ()
    flags: tuple[str, ...] = ()
    tokens: tuple[TokenLogprob, ...] = ()


@dataclass(frozen=True)
class PieceResult:
    """What a backend heard in one piece: zero or more segments, all in one language."""

    segments: tuple[Heard, ...] = ()
    language: Language = field(default_factory=Language)

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments if s.text)


class AsrBackend(Protocol):
    """A speech recogniser as the shared flow drives it."""

    @property
    def limits(self) -> AsrLimits:
        """What it accepts (read before planning, so it must not need the model loaded)."""
        ...

    def transcribe(self, pieces: Sequence[Piece]) -> list[PieceResult]:
        """One result per piece, in order; spans relative to each piece's start."""
        ...


@runtime_checkable
class IdentifiesRecordings(Protocol):
    """A backend that identifies the language once per recording (faster-whisper's default) also has this."""

    def identify(self, pieces: Sequence[Piece]) -> Language | None:
        """The language of one recording from its pieces (in time order); ``None`` leaves it to each piece."""
        ...
