"""The max_overlap attribution stage: edge cases and policies."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from qasr_plugins.stage import AttributionInput
from qasr_plugins.stages.attribution import MaxOverlapAttribution, MaxOverlapConfig
from qasr_plugins.types import Diarization, Span, SpeakerTurns, Transcript, TranscriptSegment, Turn, Word


def word(text: str, start: float, end: float, unit: str = "word") -> Word:
    return Word(text, Span(start, end), unit=unit)  # type: ignore[arg-type]


def turns(*items: tuple[float, float, str], exclusive: bool = False) -> SpeakerTurns:
    return SpeakerTurns("u", tuple(Turn(Span(s, e), spk) for s, e, spk in items), exclusive=exclusive)


def attribute(segments: tuple[TranscriptSegment, ...], diarization: Diarization | None, **settings) -> Transcript:
    return MaxOverlapAttribution(**settings)(AttributionInput(Transcript("u", segments), diarization))


def test_word_across_a_turn_boundary_goes_to_the_larger_overlap() -> None:
    seg = TranscriptSegment(Span(0, 2), "across", words=(word("across", 0.8, 1.4),))
    out = attribute((seg,), Diarization(turns((0, 1.0, "A"), (1.0, 3, "B"))))
    assert [w.speaker for w in out.words()] == ["B"]  # 0.4 s with B against 0.2 s with A
    assert out.segments[0].speaker == "B"
    assert out.segments[0].words[0].flags == ()


def test_word_in_a_gap_takes_the_nearest_turn_within_tolerance() -> None:
    seg = TranscriptSegment(Span(0, 10), "near far", words=(word("near", 2.2, 2.4), word("far", 6.0, 6.2)))
    out = attribute((seg,), Diarization(turns((0, 2.0, "A"), (8.0, 9.0, "B"))), gap_tolerance=0.5)
    near, far = out.words()
    assert (near.speaker, near.flags) == ("A", ("nearest",))
    assert (far.speaker, far.flags) == (None, ())


def test_overlapped_speech_is_flagged_with_every_active_speaker() -> None:
    seg = TranscriptSegment(Span(0, 4), "one two three",
                            words=(word("one", 0.2, 0.8), word("two", 1.2, 1.8), word("three", 2.5, 3.0)))
    regular = turns((0, 2.0, "A"), (1.0, 3.5, "B"))
    exclusive = turns((0, 1.5, "A"), (1.5, 3.5, "B"), exclusive=True)
    out = attribute((seg,), Diarization(regular, exclusive), split_segments=False)
    one, two, three = out.words()
    assert (one.speaker, one.flags, one.speakers) == ("A", (), ())
    assert two.flags == ("overlap",) and two.speakers == ("A", "B")
    assert two.speaker == "A"  # exclusive turns: 0.3 s of A, 0.3 s of B -> tie goes to the earlier turn
    assert (three.speaker, three.flags) == ("B", ())


def test_exclusive_turns_are_preferred_and_can_be_turned_off() -> None:
    seg = TranscriptSegment(Span(0, 4), "x", words=(word("x", 1.0, 2.0),))
    regular = turns((0, 3, "A"), (0.9, 2.1, "B"))
    exclusive = turns((0, 0.9, "A"), (0.9, 2.1, "B"), (2.1, 3, "A"), exclusive=True)
    assert attribute((seg,), Diarization(regular, exclusive)).segments[0].speaker == "B"
    # regular turns: A and B both cover the whole word -> tie -> the earlier turn (A)
    assert attribute((seg,), Diarization(regular, exclusive), prefer_exclusive=False).segments[0].speaker == "A"


def test_no_diarization_passes_the_transcript_through_unchanged() -> None:
    seg = TranscriptSegment(Span(0, 1), "hi", words=(word("hi", 0, 0.5),))
    transcript = Transcript("u", (seg,))
    assert MaxOverlapAttribution()(AttributionInput(transcript, None)) is transcript


def test_one_speaker_keeps_the_segment_whole() -> None:
    seg = TranscriptSegment(Span(0, 3), "Hello, world.", words=(word("Hello", 0, 1), word("world", 1.5, 2.5)))
    out = attribute((seg,), Diarization(turns((0, 10, "A"))))
    assert len(out.segments) == 1
    assert out.segments[0].speaker == "A" and out.segments[0].text == "Hello, world."
    assert [w.speaker for w in out.words()] == ["A", "A"]


def test_segments_are_split_at_speaker_changes_keeping_punctuation() -> None:
    seg = TranscriptSegment(Span(0, 4), "Hi, Bob. Hello? Yes!", language="en",
                            words=(word("Hi", 0, 0.3), word("Bob", 0.4, 0.8), word("Hello", 1.5, 2.0),
                                   word("Yes", 3.0, 3.5)))
    out = attribute((seg,), Diarization(turns((0, 1, "A"), (1.2, 2.5, "B"), (2.8, 4, "A"))))
    assert [(s.speaker, s.text, s.span.start, s.span.end) for s in out.segments] == [
        ("A", "Hi, Bob.", 0.0, 0.8), ("B", "Hello?", 1.5, 2.0), ("A", "Yes!", 3.0, 4.0)]
    assert all(s.language == "en" for s in out.segments)


def test_cjk_characters_are_split_and_rejoined_without_spaces() -> None:
    chars = [word(c, i * 0.5, i * 0.5 + 0.4, unit="char") for i, c in enumerate("你好世界")]
    seg = TranscriptSegment(Span(0, 2), "你好，世界。", words=tuple(chars))
    out = attribute((seg,), Diarization(turns((0, 1, "甲"), (1, 2, "乙"))))
    assert [(s.speaker, s.text) for s in out.segments] == [("甲", "你好，"), ("乙", "世界。")]


def test_segment_without_timed_words_is_attributed_as_a_whole() -> None:
    seg = TranscriptSegment(Span(1, 3), "untimed words", words=(Word("untimed"), Word("words")))
    out = attribute((seg,), Diarization(turns((0, 1.5, "A"), (1.5, 4, "B"))))
    assert out.segments[0].speaker == "B"
    assert [w.speaker for w in out.words()] == [None, None]


def test_untimed_words_stay_with_the_run_before_them() -> None:
    seg = TranscriptSegment(Span(0, 3), "a b c", words=(word("a", 0, 0.5), Word("b"), word("c", 2, 2.5)))
    out = attribute((seg,), Diarization(turns((0, 1, "A"), (1.5, 3, "B"))))
    assert [(s.speaker, s.text) for s in out.segments] == [("A", "a b"), ("B", "c")]


def test_min_overlap_threshold() -> None:
    seg = TranscriptSegment(Span(0, 3), "w", words=(word("w", 0.5, 1.5),))
    diarization = Diarization(turns((0, 3, "A"), (1.4, 2, "B")))
    assert attribute((seg,), diarization).segments[0].words[0].flags == ("overlap",)
    assert attribute((seg,), diarization, min_overlap=0.2).segments[0].words[0].flags == ()


def test_batch_returns_one_transcript_per_input_in_order() -> None:
    a = Transcript("a", (TranscriptSegment(Span(0, 1), "x", words=(word("x", 0, 1),)),))
    b = Transcript("b", (TranscriptSegment(Span(0, 1), "y", words=(word("y", 0, 1),)),))
    out = MaxOverlapAttribution().process([AttributionInput(a, Diarization(turns((0, 1, "A")))),
                                           AttributionInput(b, Diarization(turns((0, 1, "B"))))])
    assert [t.uri for t in out] == ["a", "b"] and [t.segments[0].speaker for t in out] == ["A", "B"]


def test_config_rejects_unknown_keys_and_bad_values() -> None:
    with pytest.raises(ValueError):
        MaxOverlapConfig(tolerance=1.0)  # type: ignore[call-arg]
    with pytest.raises(ValueError):
        MaxOverlapConfig(gap_tolerance=-1)


def test_preset_names_the_stage_and_valid_settings() -> None:
    preset = Path(__file__).resolve().parents[2] / "configs" / "stages" / "attribution" / "max_overlap.yaml"
    data = yaml.safe_load(preset.read_text(encoding="utf-8"))
    assert data.pop("name") == "max_overlap"
    assert MaxOverlapConfig(**data) == MaxOverlapConfig()


def test_a_segment_no_turn_reaches_keeps_its_speaker() -> None:
    seg = TranscriptSegment(Span(20, 21), "late", speaker="asr-speaker", words=(word("late", 20, 21),))
    out = attribute((seg,), Diarization(turns((0, 1, "A"))))
    assert out.segments[0].speaker == "asr-speaker" and out.segments[0].words[0].speaker is None


def test_speaker_names_with_commas_and_spaces_survive_overlap_flagging() -> None:
    seg = TranscriptSegment(Span(0, 2), "x", words=(word("x", 0.5, 1.5),))
    out = attribute((seg,), Diarization(turns((0, 2, "Smith, J."), (1, 2, "說話人 1"))))
    assert out.segments[0].words[0].speakers == ("Smith, J.", "說話人 1")
