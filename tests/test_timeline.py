"""Time containers' operations (qasr_plugins.timeline), the run-length helper and Transcript.text joining."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from qasr_plugins import timeline
from qasr_plugins.sequences import padded_groups, runs
from qasr_plugins.types import Diarization, Span, SpeakerTurns, SpeechRegions, Transcript, TranscriptSegment, Turn


def regions(*pairs: tuple[float, float]) -> SpeechRegions:
    return SpeechRegions("u", tuple(Span(a, b) for a, b in pairs))


def pairs(container: SpeechRegions) -> list[tuple[float, float]]:
    return [(r.start, r.end) for r in container]


def turns(*items: tuple[str, float, float], exclusive: bool = False) -> SpeakerTurns:
    return SpeakerTurns("u", tuple(Turn(Span(a, b), s) for s, a, b in items), exclusive=exclusive)


def triples(container: SpeakerTurns) -> list[tuple[str, float, float]]:
    return [(t.speaker, t.span.start, t.span.end) for t in container]


# -- types re-export and layering ----------------------------------------------------------------------------------

def test_types_reexports_the_time_containers() -> None:
    from qasr_plugins import types

    for name in ("Span", "SpeechRegions", "Turn", "SpeakerTurns", "Diarization", "CropMode"):
        assert getattr(types, name) is getattr(timeline, name) and name in types.__all__
    assert not hasattr(SpeechRegions, "total")


def test_timeline_and_sequences_import_neither_torch_nor_higher_layers() -> None:
    code = ("import sys, qasr_plugins.timeline, qasr_plugins.sequences, qasr_plugins.types; "
            "bad = [m for m in sys.modules if m == 'torch' or m.startswith(('qasr_plugins.graph', "
            "'qasr_plugins.runner', 'qasr_plugins.stages', 'qasr_plugins.adapters'))]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# -- Span ----------------------------------------------------------------------------------------------------------

def test_span_intersection_and_contains() -> None:
    assert Span(0, 2).intersection(Span(1, 3)) == Span(1, 2)
    assert Span(0, 1).intersection(Span(1, 2)) is None  # touching shares no length
    assert Span(0, 4).contains(Span(0, 4)) and Span(0, 4).contains(Span(1, 2)) and not Span(0, 4).contains(Span(3, 5))


# -- runs ----------------------------------------------------------------------------------------------------------

def test_runs_over_lists_and_arrays() -> None:
    assert runs([]) == [] and runs(np.array([], dtype=bool)) == []
    assert runs([True, True, False, True]) == [(0, 2, True), (2, 3, False), (3, 4, True)]
    assert runs("aab") == [(0, 2, "a"), (2, 3, "b")]
    found = runs(np.array([3, 3, -1, 0, 0, 0]))
    assert found == [(0, 2, 3), (2, 3, -1), (3, 6, 0)] and all(type(v) is int for _, _, v in found)
    assert runs(np.array([False, True, True])) == [(0, 1, False), (1, 3, True)]
    assert runs([7]) == [(0, 1, 7)]


def test_padded_groups_keep_order_and_stay_within_the_bound() -> None:
    sizes = [3, 2, 2, 9, 1, 1, 1, 4]
    groups = padded_groups(list("abcdefgh"), sizes, lambda rows, widest: rows * widest <= 6)
    assert [item for group in groups for item in group] == list("abcdefgh")
    assert groups == [["a", "b"], ["c"], ["d"], ["e", "f", "g"], ["h"]]  # "d" alone (too wide), "h" widens to 4
    assert padded_groups([], [], lambda rows, widest: True) == []


def test_runs_rejects_2d_arrays() -> None:
    with pytest.raises(ValueError, match="1-D"):
        runs(np.zeros((2, 2)))


# -- SpeechRegions -------------------------------------------------------------------------------------------------

def test_regions_iterate_count_and_measure() -> None:
    speech = regions((3, 4), (0, 2), (1, 2.5))
    assert len(speech) == 3 and list(speech) == [Span(0, 2), Span(1, 2.5), Span(3, 4)]
    assert speech.duration == pytest.approx(3.5)  # overlapped time counts once
    assert speech.extent == Span(0, 4)
    empty = SpeechRegions("u")
    assert len(empty) == 0 and list(empty) == [] and empty.duration == 0.0 and empty.extent is None


def test_extent_takes_the_latest_end_not_the_last_region() -> None:
    assert regions((0, 10), (2, 3)).extent == Span(0, 10)


def test_support_merges_overlapping_and_touching_regions() -> None:
    assert pairs(regions((0, 1), (1, 2), (1.5, 3), (4, 5)).support()) == [(0, 3), (4, 5)]
    assert pairs(regions((0, 10), (2, 3), (4, 5)).support()) == [(0, 10)]
    assert pairs(SpeechRegions("u").support(0.5)) == []


def test_support_collar_fills_gaps_shorter_than_it_only() -> None:
    speech = regions((0, 1), (1.5, 2), (3, 4))
    assert pairs(speech.support(0.5)) == [(0, 1), (1.5, 2), (3, 4)]  # a gap exactly the collar stays
    assert pairs(speech.support(0.51)) == [(0, 2), (3, 4)]
    assert pairs(speech.support(1.01)) == [(0, 4)]


def test_support_is_a_new_object_and_keeps_the_uri() -> None:
    speech = regions((0, 1), (0.5, 2))
    merged = speech.support()
    assert merged is not speech and merged.uri == "u" and pairs(speech) == [(0, 1), (0.5, 2)]


def test_support_rejects_a_negative_collar() -> None:
    with pytest.raises(ValueError, match="collar"):
        regions((0, 1)).support(-0.1)


def test_crop_modes() -> None:
    speech = regions((0, 2), (3, 5), (6, 7), (8, 12))
    window = Span(1, 9)
    assert pairs(speech.crop(window)) == [(1, 2), (3, 5), (6, 7), (8, 9)]
    assert pairs(speech.crop(window, mode="intersection")) == pairs(speech.crop(window))
    assert pairs(speech.crop(window, mode="loose")) == [(0, 2), (3, 5), (6, 7), (8, 12)]
    assert pairs(speech.crop(window, mode="strict")) == [(3, 5), (6, 7)]


def test_crop_at_the_edges() -> None:
    speech = regions((0, 1), (1, 2), (2, 3))
    for mode in ("intersection", "loose", "strict"):  # touching the window is not overlapping it
        assert pairs(speech.crop(Span(1, 2), mode=mode)) == [(1, 2)]
    assert pairs(regions((1, 2)).crop(Span(1, 2), mode="strict")) == [(1, 2)]  # equal edges are inside
    assert pairs(regions((1, 2)).crop(Span(1.5, 1.5))) == []  # a zero-length window holds nothing
    assert pairs(regions((1, 1)).crop(Span(0, 2), mode="strict")) == []  # nor does a zero-length region
    assert pairs(SpeechRegions("u").crop(Span(0, 1))) == []


def test_crop_by_regions_uses_their_support() -> None:
    speech = regions((0, 10))
    by = regions((1, 2), (2, 3), (5, 6), (5.5, 7))
    assert pairs(speech.crop(by)) == [(1, 3), (5, 7)]
    assert pairs(regions((1.5, 2.5), (4, 6)).crop(by, mode="strict")) == [(1.5, 2.5)]
    assert pairs(regions((1.5, 2.5), (4, 6), (8, 9)).crop(by, mode="loose")) == [(1.5, 2.5), (4, 6)]
    assert pairs(speech.crop(SpeechRegions("u"))) == []


def test_crop_rejects_an_unknown_mode() -> None:
    with pytest.raises(ValueError, match="crop mode"):
        regions((0, 1)).crop(Span(0, 1), mode="inside")  # type: ignore[arg-type]


def test_shifted() -> None:
    assert pairs(regions((0, 1), (2, 3)).shifted(10)) == [(10, 11), (12, 13)]
    assert pairs(regions((10, 11)).shifted(-10)) == [(0, 1)]
    with pytest.raises(ValueError):
        regions((1, 2)).shifted(-1.5)


def test_gaps() -> None:
    speech = regions((1, 2), (1.5, 3), (5, 6))
    assert pairs(speech.gaps()) == [(3, 5)]
    assert pairs(speech.gaps(Span(0, 10))) == [(0, 1), (3, 5), (6, 10)]
    assert pairs(speech.gaps(Span(2.5, 5.5))) == [(3, 5)]
    assert pairs(speech.gaps(Span(1.2, 2.8))) == []
    assert pairs(regions((0, 1), (1, 2)).gaps()) == []  # touching regions leave no gap
    assert pairs(regions((0, 1), (2, 2), (3, 4)).gaps()) == [(1, 3)]  # a zero-length region covers nothing
    assert pairs(SpeechRegions("u").gaps()) == [] and pairs(SpeechRegions("u").gaps(Span(0, 2))) == [(0, 2)]


def test_without_shorter() -> None:
    speech = regions((0, 0.2), (1, 1.25), (2, 3))
    assert pairs(speech.without_shorter(0.25)) == [(1, 1.25), (2, 3)]  # exactly the minimum stays
    assert pairs(speech.without_shorter(0)) == pairs(speech)


# -- SpeakerTurns --------------------------------------------------------------------------------------------------

def test_turns_iterate_count_and_measure() -> None:
    diarized = turns(("B", 1, 3), ("A", 0, 2), ("A", 5, 6))
    assert len(diarized) == 3 and all(isinstance(t, Turn) for t in diarized)
    assert triples(diarized) == [("A", 0, 2), ("B", 1, 3), ("A", 5, 6)]
    assert diarized.duration == pytest.approx(4.0)
    assert len(SpeakerTurns("u")) == 0 and SpeakerTurns("u").duration == 0.0


def test_speech_is_the_union_of_all_turns() -> None:
    speech = turns(("A", 0, 2), ("B", 1, 3), ("A", 3, 4), ("B", 6, 7)).speech()
    assert isinstance(speech, SpeechRegions) and speech.uri == "u" and pairs(speech) == [(0, 4), (6, 7)]


def test_for_speaker() -> None:
    diarized = turns(("A", 0, 1), ("B", 1, 2), ("A", 1.5, 3))
    assert pairs(diarized.for_speaker("A")) == [(0, 1), (1.5, 3)]
    assert pairs(diarized.for_speaker("nobody")) == []


def test_turn_crop_modes_keep_speakers_and_exclusive() -> None:
    diarized = turns(("A", 0, 2), ("B", 2, 4), ("A", 4, 6), exclusive=True)
    window = Span(1, 5)
    cropped = diarized.crop(window)
    assert cropped.exclusive and triples(cropped) == [("A", 1, 2), ("B", 2, 4), ("A", 4, 5)]
    assert triples(diarized.crop(window, mode="loose")) == triples(diarized)
    assert triples(diarized.crop(window, mode="strict")) == [("B", 2, 4)]
    assert diarized.crop(window, mode="strict").exclusive and not turns(("A", 0, 1)).crop(window).exclusive
    assert triples(diarized.crop(regions((0.5, 1), (3, 4.5)))) == [("A", 0.5, 1), ("B", 3, 4), ("A", 4, 4.5)]


def test_turn_shifted() -> None:
    moved = turns(("A", 0, 1), ("B", 1, 2), exclusive=True).shifted(100)
    assert moved.exclusive and triples(moved) == [("A", 100, 101), ("B", 101, 102)]


def test_turn_support_merges_per_speaker() -> None:
    diarized = turns(("A", 0, 1), ("B", 0.5, 1.5), ("A", 1.25, 2), ("A", 2, 3), ("B", 4, 5))
    assert triples(diarized.support()) == [("A", 0, 1), ("B", 0.5, 1.5), ("A", 1.25, 3), ("B", 4, 5)]
    assert triples(diarized.support(0.25)) == triples(diarized.support())  # a gap exactly the collar stays
    assert triples(diarized.support(0.3)) == [("A", 0, 3), ("B", 0.5, 1.5), ("B", 4, 5)]
    assert not diarized.support().exclusive and len(SpeakerTurns("u").support(1.0)) == 0


def test_exclusive_turn_support_stays_exclusive() -> None:
    diarized = turns(("A", 0, 1), ("B", 1.1, 1.3), ("A", 1.4, 2), ("A", 2.1, 3), ("B", 3, 4), exclusive=True)
    merged = diarized.support(0.5)
    assert merged.exclusive  # A's turns around B's do not swallow it
    assert triples(merged) == [("A", 0, 1), ("B", 1.1, 1.3), ("A", 1.4, 3), ("B", 3, 4)]
    assert triples(turns(("A", 0, 1), ("A", 1, 2), exclusive=True).support()) == [("A", 0, 2)]


def test_relabel() -> None:
    diarized = turns(("SPEAKER_00", 0, 1), ("SPEAKER_01", 1, 2), ("X", 2, 3), exclusive=True)
    renamed = diarized.relabel({"SPEAKER_00": "alice", "SPEAKER_01": "bob"})
    assert renamed.exclusive and triples(renamed) == [("alice", 0, 1), ("bob", 1, 2), ("X", 2, 3)]
    assert renamed.speakers == ("X", "alice", "bob") and diarized.speakers == ("SPEAKER_00", "SPEAKER_01", "X")


# -- Diarization ---------------------------------------------------------------------------------------------------

def test_best_prefers_exclusive_turns_even_when_empty() -> None:
    regular = turns(("A", 0, 2), ("B", 1, 3))
    exclusive = turns(("A", 0, 1), ("B", 1, 3), exclusive=True)
    assert Diarization(regular, exclusive).best is exclusive
    assert Diarization(regular).best is regular
    empty = SpeakerTurns("u", (), exclusive=True)
    assert Diarization(regular, empty).best is empty
    only = turns(("A", 0, 1), exclusive=True)
    assert Diarization(only).best is only


def test_diarization_crop_and_shift_apply_to_both() -> None:
    diarization = Diarization(turns(("A", 0, 2), ("B", 1, 3)), turns(("A", 0, 1), ("B", 1, 3), exclusive=True))
    cropped = diarization.crop(Span(0.5, 2))
    assert triples(cropped.turns) == [("A", 0.5, 2), ("B", 1, 2)]
    assert cropped.exclusive is not None and cropped.exclusive.exclusive
    assert triples(cropped.exclusive) == [("A", 0.5, 1), ("B", 1, 2)]
    moved = diarization.shifted(10)
    assert triples(moved.turns) == [("A", 10, 12), ("B", 11, 13)] and moved.uri == "u"
    assert moved.exclusive is not None and triples(moved.exclusive) == [("A", 10, 11), ("B", 11, 13)]
    without = Diarization(turns(("A", 0, 2))).shifted(1).crop(Span(0, 2), mode="strict")
    assert without.exclusive is None and triples(without.turns) == []


# -- Transcript.text -----------------------------------------------------------------------------------------------

def transcript(*pieces: tuple[str, str | None]) -> Transcript:
    return Transcript("u", tuple(TranscriptSegment(Span(i, i + 1), text, language)
                                 for i, (text, language) in enumerate(pieces)))


@pytest.mark.parametrize("pieces,expected", [
    ((("你好", "zh"), ("世界", "zh")), "你好世界"),
    ((("粤语", "yue"), ("你好", "zh")), "粤语你好"),
    ((("こんにちは", "ja"), (" 世界 ", "ja")), "こんにちは世界"),
    ((("hello", "en"), (" world ", "en"), ("", None), ("again", None)), "hello world again"),
    ((("hello", "en"), ("你好", "zh"), ("世界", "zh"), ("bye", "en")), "hello 你好世界 bye"),
    ((("你好", "zh"), ("   ", "en"), ("世界", "zh")), "你好世界"),  # an empty segment does not separate them
    ((("你好", "zh"), ("ok", None), ("世界", "zh-CN")), "你好 ok 世界"),
    ((), ""),
])
def test_transcript_text_joins_spaceless_languages_directly(pieces: tuple[tuple[str, str | None], ...],
                                                            expected: str) -> None:
    assert transcript(*pieces).text == expected
