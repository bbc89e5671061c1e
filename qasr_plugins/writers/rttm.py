"""The ``rttm`` writer: speaker turns in NIST RTTM, one ``SPEAKER`` line per turn.

Turns come from the diarization (the regular turns, overlaps kept) when the result has one, else from the
speaker-attributed transcript: consecutive words of one speaker (or whole segments when words are untimed) joined
into a turn while the silence between them is at most ``merge_gap`` seconds. ``source`` forces either.
Whitespace in a uri or speaker name is replaced by ``_`` (RTTM fields are space-separated).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import Field

from qasr_plugins.document import ResultDocument
from qasr_plugins.errors import OutputError
from qasr_plugins.stage import SPEAKERS, AnyOf, Requirement, StageConfig, Writer
from qasr_plugins.types import Span, Transcript, Turn


class RttmConfig(StageConfig):
    source: Literal["auto", "diarization", "transcript"] = "auto"
    merge_gap: float = Field(0.5, ge=0, le=60)
    precision: int = Field(3, ge=0, le=6)


def _field(text: str) -> str:
    return "_".join(text.split()) or "_"


def transcript_turns(transcript: Transcript, merge_gap: float) -> list[Turn]:
    """Speaker turns implied by speaker-attributed words (or segments without timed words)."""
    pieces: list[tuple[Span, str]] = []
    for segment in transcript.segments:
        timed = [w for w in segment.words if w.span is not None]
        if timed:
            pieces.extend((w.span, w.speaker or segment.speaker) for w in timed  # type: ignore[misc]
                          if (w.speaker or segment.speaker))
        elif segment.speaker:
            pieces.append((segment.span, segment.speaker))
    last_by_speaker: dict[str, int] = {}
    turns: list[Turn] = []
    for span, speaker in sorted(pieces, key=lambda p: (p[0].start, p[0].end)):
        index = last_by_speaker.get(speaker)
        if index is not None and index == len(turns) - 1 and span.start - turns[index].span.end <= merge_gap:
            previous = turns[index].span
            turns[index] = Turn(Span(previous.start, max(previous.end, span.end)), speaker)
        else:
            last_by_speaker[speaker] = len(turns)
            turns.append(Turn(span, speaker))
    return turns


def rttm_lines(uri: str, turns: Iterable[Turn], precision: int = 3) -> str:
    return "".join(f"SPEAKER {_field(uri)} 1 {t.span.start:.{precision}f} {t.span.duration:.{precision}f} "
                   f"<NA> <NA> {_field(t.speaker)} <NA> <NA>\n" for t in turns)


class RttmWriter(Writer):
    """Writes ``<uri>.rttm``."""

    config: RttmConfig
    suffix = "rttm"

    @classmethod
    def requires(cls, config: StageConfig) -> frozenset[Requirement]:
        source = config.source  # type: ignore[attr-defined]
        return {"auto": frozenset({AnyOf.of("diarization", SPEAKERS)}), "diarization": frozenset({"diarization"}),
                "transcript": frozenset({"transcript", SPEAKERS})}[source]

    def render(self, document: ResultDocument) -> str:
        config = self.config
        if document.diarization is not None and config.source in ("auto", "diarization"):
            turns = list(document.diarization.turns)
        elif document.transcript is not None and config.source in ("auto", "transcript"):
            turns = transcript_turns(document.transcript, config.merge_gap)
        else:
            raise OutputError("has neither diarization nor a speaker-attributed transcript to write as RTTM.",
                              where=document.uri, code="O503",
                              hint="Add a diarization stage (and an attribution stage), or drop the 'rttm' format.")
        return rttm_lines(document.uri, turns, config.precision)
