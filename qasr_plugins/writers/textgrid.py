"""The ``textgrid`` writer: a Praat TextGrid (long text format, written by praatio).

Two interval tiers per speaker, ``"<speaker> - words"`` and ``"<speaker> - segments"`` (speakers in order of first
appearance; ``unknown_speaker`` for words/segments without one). Praat needs intervals of positive length that do
not overlap within a tier: an interval starting before the previous one ends is clipped to start there, and
intervals left empty (zero-length words, a known aligner failure) are dropped. The grid spans the recording.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from pydantic import Field

from qasr_plugins.document import ResultDocument
from qasr_plugins.stage import StageConfig, TranscriptWriter
from qasr_plugins.types import Span, Transcript

MIN_INTERVAL = 1e-4


class TextGridConfig(StageConfig):
    unknown_speaker: str = Field("unknown", min_length=1)
    words: bool = True


def _intervals(items: list[tuple[Span, str]]) -> list[tuple[float, float, str]]:
    out: list[tuple[float, float, str]] = []
    for span, text in sorted(items, key=lambda item: (item[0].start, item[0].end)):
        start = max(span.start, out[-1][1]) if out else span.start
        if span.end - start >= MIN_INTERVAL:
            out.append((start, span.end, text))
    return out


class TextGridWriter(TranscriptWriter):
    """Writes ``<uri>.TextGrid``."""

    config: TextGridConfig
    suffix = "TextGrid"

    def render_transcript(self, transcript: Transcript, document: ResultDocument) -> str:
        from praatio import textgrid

        config, segments = self.config, transcript.segments
        words: dict[str, list[tuple[Span, str]]] = {}
        spans: dict[str, list[tuple[Span, str]]] = {}
        for segment in segments:
            speaker = segment.speaker or config.unknown_speaker
            spans.setdefault(speaker, []).append((segment.span, segment.text.strip()))
            words.setdefault(speaker, [])
            for word in segment.words:
                if word.span is not None:
                    words.setdefault(word.speaker or speaker, []).append((word.span, word.text))
        end = max([document.audio.duration + document.audio.offset]
                  + [s.span.end for s in segments] + [w.span.end for s in segments for w in s.words if w.span])
        grid = textgrid.Textgrid(0.0, end)
        for speaker in dict.fromkeys([*spans, *words]):
            if config.words:
                grid.addTier(textgrid.IntervalTier(f"{speaker} - words", _intervals(words.get(speaker, [])), 0.0, end))
            grid.addTier(textgrid.IntervalTier(f"{speaker} - segments", _intervals(spans.get(speaker, [])), 0.0, end))
        with tempfile.TemporaryDirectory() as tmp:  # praatio's public API writes files only
            path = Path(tmp) / "grid.TextGrid"
            grid.save(str(path), format="long_textgrid", includeBlankSpaces=True, minimumIntervalLength=None,
                      reportingMode="error")
            return path.read_text(encoding="utf-8")
