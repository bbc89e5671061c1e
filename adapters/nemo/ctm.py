"""The ``ctm`` writer: one line per timed word, in either of the two CTM layouts NeMo reads.

``layout: nfa`` (the default) is the NeMo Forced Aligner's word-level CTM, ``<uri> 1 <start> <duration> <word>``;
``extended: true`` appends the RT-09 fields NeMo's ``get_ctm_line`` writes: ``<conf> lex <speaker>`` (``NA`` /
``unknown`` when not known).

``layout: diarization`` is the speaker-tagged CTM of NeMo's diarization + ASR utilities,
``<uri> <speaker> <start> <duration> <word> <conf>`` (as ``convert_word_dict_seq_to_ctm`` writes it): the second
column holds the speaker, which ``convert_ctm_to_text`` reads to split a reference (or hypothesis) transcript per
speaker for cpWER (``OfflineDiarWithASR.evaluate``); ``unknown`` when the word has no speaker, ``NA`` when no
confidence is known.

In both, times have ``precision`` decimals (NFA: 2), a space inside a unit is written as ``<space>`` (NFA's token),
spaces in the uri as ``-`` (as NFA does for utterance ids) and in speaker labels as ``_``. Untimed words are left
out.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from qasr_plugins.document import ResultDocument
from qasr_plugins.stage import SPEAKERS, WORD_TIMESTAMPS, StageConfig, Writer

SPACE_TOKEN = "<space>"


class CtmConfig(StageConfig):
    precision: int = Field(2, ge=0, le=6)
    layout: Literal["nfa", "diarization"] = Field("nfa", description="nfa: NFA's word CTM (channel in column 2); "
                                                  "diarization: NeMo's speaker-tagged CTM (speaker in column 2).")
    extended: bool = Field(False, description="Append '<conf> lex <speaker>' to NFA lines.")

    @model_validator(mode="after")
    def _extended_is_nfa(self) -> CtmConfig:
        if self.extended and self.layout != "nfa":
            raise ValueError("extended applies to layout 'nfa' only (diarization lines always carry speaker and "
                             "confidence)")
        return self


def _field(text: str) -> str:
    return SPACE_TOKEN.join(text.split(" ")) if text.strip() else SPACE_TOKEN


class CtmWriter(Writer):
    """Writes ``<uri>.ctm`` (word level)."""

    config: CtmConfig
    suffix = "ctm"

    @classmethod
    def requires(cls, config: StageConfig) -> frozenset[str]:
        if config.layout == "diarization":  # type: ignore[attr-defined]
            return frozenset({"transcript", WORD_TIMESTAMPS, SPEAKERS})
        return frozenset({"transcript", WORD_TIMESTAMPS})

    def render(self, document: ResultDocument) -> str:
        config = self.config
        uri = "-".join(document.uri.split(" "))
        lines: list[str] = []
        for segment in document.transcript.segments if document.transcript else ():
            for word in segment.words:
                if word.span is None:
                    continue
                start, duration = f"{word.span.start:.{config.precision}f}", f"{word.span.duration:.{config.precision}f}"
                token = _field(word.text.strip())
                conf = "NA" if word.confidence is None else f"{word.confidence:.3f}"
                speaker = "_".join((word.speaker or segment.speaker or "unknown").split())
                if config.layout == "diarization":
                    lines.append(f"{uri} {speaker} {start} {duration} {token} {conf}\n")
                elif config.extended:
                    lines.append(f"{uri} 1 {start} {duration} {token} {conf} lex {speaker}\n")
                else:
                    lines.append(f"{uri} 1 {start} {duration} {token}\n")
        return "".join(lines)
