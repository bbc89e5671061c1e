"""The ``txt`` and ``tsv`` writers: plain text for reading and a table for spreadsheets and scripts.

``txt`` writes speaker-labelled paragraphs: consecutive segments of one speaker form a paragraph (a silence longer
than ``paragraph_gap`` also starts one), optionally prefixed with the paragraph's start time.
``tsv`` writes a header ``start end speaker text`` and one row per segment (or per word with ``level: word``);
times in seconds, tabs and line breaks inside text replaced by spaces.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from qasr_plugins.document import ResultDocument
from qasr_plugins.stage import StageConfig, TranscriptWriter
from qasr_plugins.types import Transcript, TranscriptSegment
from qasr_plugins.writers.subtitles import vtt_timestamp


class TxtConfig(StageConfig):
    speaker_template: str = "{speaker}: "
    timestamps: bool = False
    paragraph_gap: float = Field(2.0, ge=0, le=3600)


class TsvConfig(StageConfig):
    level: Literal["segment", "word"] = "segment"
    precision: int = Field(3, ge=0, le=6)


class TxtWriter(TranscriptWriter):
    """Writes ``<uri>.txt``."""

    config: TxtConfig
    suffix = "txt"

    def render_transcript(self, transcript: Transcript, document: ResultDocument) -> str:
        paragraphs: list[list[TranscriptSegment]] = []
        config = self.config
        for segment in transcript.segments:
            if not segment.text.strip():
                continue
            previous = paragraphs[-1][-1] if paragraphs else None
            if (previous is not None and previous.speaker == segment.speaker
                    and segment.span.start - previous.span.end <= config.paragraph_gap):
                paragraphs[-1].append(segment)
            else:
                paragraphs.append([segment])
        blocks = []
        for paragraph in paragraphs:
            head = f"[{vtt_timestamp(paragraph[0].span.start)}] " if config.timestamps else ""
            label = config.speaker_template.format(speaker=paragraph[0].speaker) if paragraph[0].speaker else ""
            blocks.append(head + label + Transcript(document.uri, tuple(paragraph)).text)
        return "\n\n".join(blocks) + "\n" if blocks else ""


def _cell(text: str | None) -> str:
    return " ".join((text or "").split())


class TsvWriter(TranscriptWriter):
    """Writes ``<uri>.tsv``."""

    config: TsvConfig
    suffix = "tsv"

    def render_transcript(self, transcript: Transcript, document: ResultDocument) -> str:
        rows, config = ["start\tend\tspeaker\ttext"], self.config
        p = config.precision
        for segment in transcript.segments:
            if config.level == "segment":
                rows.append(f"{segment.span.start:.{p}f}\t{segment.span.end:.{p}f}\t{_cell(segment.speaker)}\t"
                            f"{_cell(segment.text)}")
                continue
            for word in segment.words:
                start, end = ("", "") if word.span is None else (f"{word.span.start:.{p}f}", f"{word.span.end:.{p}f}")
                rows.append(f"{start}\t{end}\t{_cell(word.speaker or segment.speaker)}\t{_cell(word.text)}")
        return "\n".join(rows) + "\n"
