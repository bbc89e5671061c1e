"""The ``ctm`` writer: one line per timed word, laid out as the NeMo Forced Aligner writes word-level CTM.

``<uri> 1 <start> <duration> <word>``: times with ``precision`` decimals (NFA: 2), a space inside a unit written as
``<space>`` (NFA's token), spaces in the uri as ``-`` (as NFA does for utterance ids). ``extended: true`` appends the
RT-09 fields NeMo's ``get_ctm_line`` writes: ``<conf> lex <speaker>`` (``NA`` / ``unknown`` when not known).
Untimed words are left out.
"""

from __future__ import annotations

from pydantic import Field

from qasr_plugins.document import ResultDocument
from qasr_plugins.stage import WORD_TIMESTAMPS, StageConfig, Writer

SPACE_TOKEN = "<space>"


class CtmConfig(StageConfig):
    precision: int = Field(2, ge=0, le=6)
    extended: bool = False


def _field(text: str) -> str:
    return SPACE_TOKEN.join(text.split(" ")) if text.strip() else SPACE_TOKEN


class CtmWriter(Writer):
    """Writes ``<uri>.ctm`` (word level)."""

    Config = CtmConfig

    config: CtmConfig
    suffix = "ctm"
    needs = frozenset({"transcript", WORD_TIMESTAMPS})

    def render(self, document: ResultDocument) -> str:
        config = self.config
        uri = "-".join(document.uri.split(" "))
        lines: list[str] = []
        for segment in document.transcript.segments if document.transcript else ():
            for word in segment.words:
                if word.span is None:
                    continue
                line = (f"{uri} 1 {word.span.start:.{config.precision}f} {word.span.duration:.{config.precision}f} "
                        f"{_field(word.text.strip())}")
                if config.extended:
                    conf = "NA" if word.confidence is None else f"{word.confidence:.3f}"
                    speaker = "_".join((word.speaker or segment.speaker or "unknown").split())
                    line += f" {conf} lex {speaker}"
                lines.append(line + "\n")
        return "".join(lines)
