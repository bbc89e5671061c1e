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


def plan_pieces(item: AsrInput, min_duration: float = 0.0) -> list[Piece]:
    """Crop ``item.audio`` into the pieces to transcribe, in time order; shorter than ``min_duration`` dropped.

    Diarization turns win over speech regions (they carry speakers); the exclusive turns are used when present so
    overlapped speech is not transcribed twice.
    """
    audio = item.audio
    if item.diarization is not None:
        turns = (item.diarization.exclusive or item.diarization.turns).turns
        spans = [(t.span, t.speaker) for t in turns]
    elif item.speech is not None:
        spans = [(r, None) for r in item.speech.regions]
    else:
        spans = [(audio.span, None)]
    pieces = []
    for span, speaker in spans:
        clipped = span.clamped(audio.span.start, audio.span.end)
        if clipped.duration > 0 and clipped.duration >= min_duration:
            pieces.append(Piece(clipped, audio.crop(clipped), speaker))
    return pieces
