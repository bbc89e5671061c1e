"""A hand-built, speaker-attributed result document exercising what writers must survive."""

from __future__ import annotations

import pytest

from qasr_plugins.document import AudioInfo, ResultDocument
from qasr_plugins.types import Diarization, Span, SpeakerTurns, Transcript, TranscriptSegment, Turn, Word


def _w(text: str, start: float, end: float, speaker: str | None, unit: str = "word", **kw) -> Word:
    return Word(text, Span(start, end), speaker, unit=unit, **kw)  # type: ignore[arg-type]


def build_document() -> ResultDocument:
    english = TranscriptSegment(
        Span(0.5, 3.2), "Hello, Bob & <Alice> --> fine? Yes.", language="en", language_raw="English",
        speaker="SPEAKER_00",
        words=(_w("Hello", 0.5, 0.9, "SPEAKER_00", confidence=0.9), _w("Bob", 1.0, 1.3, "SPEAKER_00"),
               _w("&", 1.3, 1.4, "SPEAKER_00"), _w("<Alice>", 1.4, 1.9, "SPEAKER_00"),
               _w("-->", 1.9, 2.0, "SPEAKER_00"), _w("fine", 2.0, 2.4, "SPEAKER_00"),
               _w("Yes", 2.8, 3.2, "SPEAKER_00", flags=("overlap",), speakers=("SPEAKER_00", "說話人 1"))))
    chinese = TranscriptSegment(
        Span(3.0, 5.0), "你好，世界。", language="zh", language_raw="Chinese", speaker="說話人 1",
        words=tuple(_w(c, 3.0 + i * 0.5, 3.4 + i * 0.5, "說話人 1", unit="char") for i, c in enumerate("你好世界")))
    untimed = TranscriptSegment(Span(6.0, 8.0), "An untimed segment without words.", language="en",
                                speaker="SPEAKER_00")
    turns = SpeakerTurns("talk", (Turn(Span(0.4, 3.2), "SPEAKER_00"), Turn(Span(2.7, 5.1), "說話人 1"),
                                  Turn(Span(6.0, 8.0), "SPEAKER_00")))
    return ResultDocument(uri="talk", audio=AudioInfo("/data/talk.wav", 9.0),
                          diarization=Diarization(turns), transcript=Transcript("talk", (english, chinese, untimed)))


@pytest.fixture()
def document() -> ResultDocument:
    return build_document()
