"""Data model invariants and the lossless JSON round trip."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from qasr_plugins.document import SCHEMA_VERSION, AudioInfo, ResultDocument
from qasr_plugins.errors import InputError
from qasr_plugins.types import (
    Audio,
    Diarization,
    Span,
    SpeakerEmbeddings,
    SpeakerTurns,
    SpeechRegions,
    StageRecord,
    Transcript,
    TranscriptSegment,
    Turn,
    Word,
)


@pytest.mark.parametrize("start,end", [(1.0, 0.5), (math.nan, 1.0), (0.0, math.inf), (-0.1, 1.0)])
def test_span_rejects_invalid_times(start: float, end: float) -> None:
    with pytest.raises(ValueError):
        Span(start, end)


def test_span_helpers() -> None:
    a, b = Span(1.0, 3.0), Span(2.0, 5.0)
    assert a.overlap(b) == 1.0 and Span(0, 1).overlap(Span(2, 3)) == 0.0
    assert a.shifted(10).start == 11.0 and b.clamped(0, 4) == Span(2.0, 4.0)


def test_exclusive_turns_must_not_overlap() -> None:
    turns = (Turn(Span(0, 2), "A"), Turn(Span(1, 3), "B"))
    assert not SpeakerTurns("u", turns).exclusive
    with pytest.raises(ValueError):
        SpeakerTurns("u", turns, exclusive=True)


def test_word_unit_and_confidence_validated() -> None:
    with pytest.raises(ValueError):
        Word("x", unit="syllable")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Word("x", confidence=math.nan)


def test_audio_crop_keeps_absolute_time() -> None:
    audio = Audio("u", np.arange(16000 * 10, dtype=np.float32), offset=5.0)
    piece = audio.crop(Span(7.0, 8.5))
    assert piece.offset == pytest.approx(7.0) and piece.duration == pytest.approx(1.5)
    assert piece.waveform[0] == 32000 and piece.span == Span(7.0, 8.5)
    assert audio.crop(Span(0, 1)).duration == 0.0  # before the audio: empty, not an error


def _document() -> ResultDocument:
    words = (Word("你", Span(1.0, 1.2), "A", 0.9, "char"), Word("好", Span(1.2, 1.4), "A", None, "char", ("repaired",)),
             Word("hello,", Span(1.5, 1.9), "B", 0.123456789012345, speakers=("A", "B"), flags=("overlap",)),
             Word("untimed"))
    segment = TranscriptSegment(Span(1.0, 2.0), "你好 hello, untimed", "zh", "Chinese,English", 0.75, "A", words,
                                ("context_echo",))
    turns = SpeakerTurns("u", (Turn(Span(0.5, 1.6), "A"), Turn(Span(1.4, 2.0), "B")))
    exclusive = SpeakerTurns("u", (Turn(Span(0.5, 1.5), "A"), Turn(Span(1.5, 2.0), "B")), exclusive=True)
    record = StageRecord("asr", "asr", "qwen3.asr", "qasr-plugins", "0.1.0", "Qwen/Qwen3-ASR-0.6B-hf", "abc", 1.5,
                         {"batch_size": 8, "language": None})
    return ResultDocument("u", AudioInfo("/a/u.wav", 2.0, 16000, 0.0), SpeechRegions("u", (Span(0.5, 2.0),)),
                          Diarization(turns, exclusive), Transcript("u", (segment,)), (record,), "p", "0.1.0",
                          {"note": "x"})


def test_result_document_json_round_trip_is_lossless() -> None:
    doc = _document()
    text = doc.to_json()
    data = json.loads(text)
    assert data["schema"] == "qasr.result" and data["schema_version"] == SCHEMA_VERSION
    again = ResultDocument.from_json(text)
    assert again == doc
    assert again.to_json() == text
    assert "你好" in text  # unicode kept verbatim


def test_foreign_or_future_documents_are_rejected_with_codes() -> None:
    data = _document().to_dict()
    with pytest.raises(InputError) as info:
        ResultDocument.from_dict({**data, "schema": "other"}, source="x.json")
    assert info.value.code == "I306" and "x.json" in info.value.render()
    with pytest.raises(InputError) as info:
        ResultDocument.from_dict({**data, "schema_version": "2.0"}, source="x.json")
    assert info.value.code == "I307"
    with pytest.raises(InputError):
        ResultDocument.from_json("{not json", source="bad.json")
    with pytest.raises(InputError) as info:
        ResultDocument.from_json("[1, 2]", source="list.json")
    assert info.value.code == "I306"


@pytest.mark.parametrize("damage", [
    lambda d: d.pop("uri"),
    lambda d: d["audio"].update(duration="long"),
    lambda d: d.update(diarization={"turns": {"uri": "u", "turns": [{"start": "zz", "end": 1, "speaker": "A"}]}}),
    lambda d: d.update(diarization={"turns": {"uri": "u", "turns": []},
                                    "embeddings": {"space": "x", "vectors": {"A": ["one"]}}}),
    lambda d: d.update(transcript={"uri": "u", "segments": "none"}),
])
def test_a_damaged_document_is_a_coded_error_naming_the_file(damage, tmp_path: Path) -> None:
    from qasr_plugins.evaluation.readers import read_all

    data = _document().to_dict()
    damage(data)
    with pytest.raises(InputError) as info:
        ResultDocument.from_dict(data, source="x.json")
    assert info.value.code == "I310" and "x.json" in info.value.render()
    (tmp_path / "x.json").write_text(json.dumps(data))
    with pytest.raises(InputError) as listed:  # found in a folder: reported, not skipped as a foreign JSON file
        read_all([tmp_path])
    assert listed.value.code == "I310"


def test_types_are_frozen() -> None:
    with pytest.raises(AttributeError):
        Span(0, 1).start = 2  # type: ignore[misc]


def test_speaker_embeddings_are_checked_and_round_trip() -> None:
    embeddings = SpeakerEmbeddings.of("space", {"A": [1.0, 0.0], "B": [0.0, 1.0]})
    assert SpeakerEmbeddings.from_dict(embeddings.to_dict()) == embeddings
    assert embeddings.relabel({"A": "Ann"}).as_dict() == {"Ann": (1.0, 0.0), "B": (0.0, 1.0)}
    assert embeddings.relabel({"A": "X", "B": "X"}).as_dict() == {"X": (0.5, 0.5)}  # merged speakers: the mean
    turns = SpeakerTurns("u", (Turn(Span(0, 1), "A"),))
    diarization = Diarization(turns, embeddings=embeddings)
    assert Diarization.from_dict(diarization.to_dict()) == diarization
    assert diarization.crop(Span(0, 0.5)).embeddings == embeddings
    assert "embeddings" not in Diarization(turns).to_dict()  # documents without them are unchanged
    with pytest.raises(ValueError, match="one vector per speaker"):
        SpeakerEmbeddings("space", ("A", "B"), ((1.0,),))
    with pytest.raises(ValueError, match="same dimension"):
        SpeakerEmbeddings.of("space", {"A": [1.0], "B": [1.0, 2.0]})
    with pytest.raises(ValueError, match="finite"):
        SpeakerEmbeddings.of("space", {"A": [float("nan")]})
