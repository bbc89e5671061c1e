"""What an ASR stage transcribes: the graph's diarization turns, else its speech regions, else the whole file."""

from __future__ import annotations

from dataclasses import dataclass

from qasr_plugins.stage import AsrInput
from qasr_plugins.types import Audio, Span


@dataclass(frozen=True)
class Piece:
    """A stretch of audio to transcribe, cropped with its absolute span and speaker (when from a turn)."""

    span: Span
    audio: Audio
    speaker: str | None = None


def wired_regions(item: AsrInput) -> list[tuple[Span, str | None]] | None:
    """The spans the graph asks to transcribe, clamped to the audio, with their speakers; ``None`` when neither
    diarization nor speech regions are wired.

    Diarization turns win over speech regions (they carry speakers); the exclusive turns are used when present so
    overlapped speech is not transcribed twice.
    """
    bounds = item.audio.span
    if item.diarization is not None:
        turns = (item.diarization.exclusive or item.diarization.turns).turns
        spans = [(t.span, t.speaker) for t in turns]
    elif item.speech is not None:
        spans = [(r, None) for r in item.speech.regions]
    else:
        return None
    return [(span.clamped(bounds.start, bounds.end), speaker) for span, speaker in spans
            if span.overlap(bounds) > 0]


def plan_pieces(item: AsrInput, min_duration: float = 0.0) -> list[Piece]:
    """Crop ``item.audio`` into the pieces to transcribe (:func:`wired_regions`, else the whole file), in time
    order; pieces shorter than ``min_duration`` are dropped."""
    spans = wired_regions(item)
    if spans is None:
        spans = [(item.audio.span, None)]
    return [Piece(span, item.audio.crop(span), speaker) for span, speaker in spans
            if span.duration > 0 and span.duration >= min_duration]
