"""The ``whisperx`` writer: WhisperX's result JSON, so tools built on WhisperX output read ours.

Layout (as ``whisperx.assign_word_speakers`` leaves it)::

    {"segments": [{"start", "end", "text", "speaker"?, "words": [{"word", "start"?, "end"?, "score"?,
                   "speaker"?}]}],
     "word_segments": [every word, in order],
     "language": "en"}

Words carry their punctuation (WhisperX words do); keys for unknown values are left out, as WhisperX does for
words it could not align. ``language`` is the transcript's most frequent segment language (``null`` if none).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from qasr_plugins.document import ResultDocument
from qasr_plugins.stage import StageConfig, TranscriptWriter
from qasr_plugins.text import segment_pieces
from qasr_plugins.types import Transcript, TranscriptSegment


class WhisperxConfig(StageConfig):
    indent: int | None = 2
    precision: int = 3


class WhisperxWriter(TranscriptWriter):
    """Writes ``<uri>.whisperx.json``."""

    config: WhisperxConfig
    suffix = "whisperx.json"

    def render_transcript(self, transcript: Transcript, document: ResultDocument) -> str:
        config, segments = self.config, transcript.segments
        out = [self._segment(s, config.precision) for s in segments]
        languages = Counter(s.language for s in segments if s.language)
        result = {"segments": out, "word_segments": [w for s in out for w in s["words"]],
                  "language": languages.most_common(1)[0][0] if languages else None}
        return json.dumps(result, ensure_ascii=False, indent=config.indent) + "\n"

    @staticmethod
    def _segment(segment: TranscriptSegment, precision: int) -> dict[str, Any]:
        words = []
        for word, piece in zip(segment.words, segment_pieces(segment), strict=True):
            item: dict[str, Any] = {"word": piece.text or word.text}
            if word.span is not None:
                item["start"], item["end"] = round(word.span.start, precision), round(word.span.end, precision)
            if word.confidence is not None:
                item["score"] = round(word.confidence, precision)
            if word.speaker or segment.speaker:
                item["speaker"] = word.speaker or segment.speaker
            words.append(item)
        data: dict[str, Any] = {"start": round(segment.span.start, precision),
                                "end": round(segment.span.end, precision), "text": segment.text.strip()}
        if segment.speaker:
            data["speaker"] = segment.speaker
        data["words"] = words
        return data
