"""The shared ASR flow on a fake backend: offsets, batching, order, speakers, cuts, padding, per-recording language."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
import pytest

from qasr_plugins.asr.backend import AsrLimits, Heard, Language, Piece, PieceResult
from qasr_plugins.asr.chunks import ChunkLimits
from qasr_plugins.asr.flow import batches, transcribe_inputs
from qasr_plugins.asr.pieces import plan_pieces
from qasr_plugins.stage import AsrInput
from qasr_plugins.types import Audio, Diarization, Span, SpeakerTurns, SpeechRegions, Turn, Word

RATE = 16_000


@dataclass
class FakeBackend:
    """Answers each piece with its own length and one word at 0.1-0.3 s; records the calls it gets."""

    limits: AsrLimits = field(default_factory=AsrLimits)
    calls: list[list[Piece]] = field(default_factory=list)

    def transcribe(self, pieces: Sequence[Piece]) -> list[PieceResult]:
        self.calls.append(list(pieces))
        return [PieceResult((Heard(f"{p.seconds:.2f}", Span(0.1, 0.3), (Word("w", Span(0.1, 0.3)), Word("x"))),),
                            Language("en", "English")) for p in pieces]


@dataclass
class RecordingLanguageBackend(FakeBackend):
    """A fake that identifies one language per recording and answers in it."""

    identified: list[int] = field(default_factory=list)

    def identify(self, pieces: Sequence[Piece]) -> Language | None:
        self.identified.append(pieces[0].item)
        return Language("de" if pieces[0].recording.uri == "german" else "fr", None, 0.9)

    def transcribe(self, pieces: Sequence[Piece]) -> list[PieceResult]:
        return [PieceResult((Heard("t"),), p.language) for p in pieces]


def _noise(uri: str, seconds: float, offset: float = 0.0, quiet: tuple[float, ...] = ()) -> Audio:
    wave = np.random.default_rng(0).normal(0, 0.3, int(seconds * RATE)).astype(np.float32)
    for at in quiet:  # 200 ms of silence at these recording times
        first = int((at - offset) * RATE)
        wave[first:first + 3200] = 0.0
    return Audio(uri, wave, offset=offset)


def test_offsets_are_applied_once_across_files() -> None:
    first, second = _noise("a", 10.0, offset=100.0), _noise("b", 5.0, offset=7.0)
    regions = SpeechRegions("a", (Span(101.0, 103.0), Span(105.0, 106.0)))
    out = transcribe_inputs(FakeBackend(), [AsrInput(first, regions), AsrInput(second)])
    assert [s.span for s in out[0].segments] == [Span(101.1, 101.3), Span(105.1, 105.3)]
    assert out[1].segments[0].span == pytest.approx(Span(7.1, 7.3))
    (word, untimed) = out[0].segments[0].words
    assert word.span == Span(101.1, 101.3) and untimed.span is None
    assert out[0].segments[0].language == "en" and out[0].segments[0].language_raw == "English"


def test_results_come_back_in_input_order_and_time_order() -> None:
    long, short = _noise("long", 20.0), _noise("short", 2.0)
    backend = FakeBackend(AsrLimits(batch_size=2))
    out = transcribe_inputs(backend, [AsrInput(short), AsrInput(long), AsrInput(short)])
    assert [t.uri for t in out] == ["short", "long", "short"]
    assert [len(t.segments) for t in out] == [1, 1, 1]
    assert [p.recording.uri for p in backend.calls[0]] == ["long", "short"]  # longest first, across files
    regions = SpeechRegions("long", (Span(0.0, 1.0), Span(2.0, 8.0), Span(9.0, 12.0)))
    (timed,) = transcribe_inputs(FakeBackend(), [AsrInput(long, regions)])
    assert [s.span.start for s in timed.segments] == [0.1, 2.1, 9.1]


def test_batches_are_length_sorted_within_the_limits() -> None:
    audio = _noise("a", 60.0)
    regions = SpeechRegions("a", tuple(Span(k * 6.0, k * 6.0 + 1.0 + k * 0.4) for k in range(9)))
    limits = AsrLimits(batch_size=3, batch_seconds=8.0)
    pieces = plan_pieces(0, AsrInput(audio, regions), limits)
    groups = batches(pieces, limits)
    seconds = [p.seconds for group in groups for p in group]
    assert seconds == sorted(seconds, reverse=True) and len(seconds) == 9
    assert all(len(g) <= 3 and (len(g) == 1 or sum(p.seconds for p in g) <= 8.0) for g in groups)
    backend = FakeBackend(limits)
    transcribe_inputs(backend, [AsrInput(audio, regions)])
    assert [[p.span for p in call] for call in backend.calls] == [[p.span for p in g] for g in groups]


def test_speakers_come_from_the_exclusive_turns() -> None:
    audio = _noise("a", 10.0)
    turns = SpeakerTurns("a", (Turn(Span(1.0, 3.0), "A"), Turn(Span(2.5, 6.0), "B")))
    exclusive = SpeakerTurns("a", (Turn(Span(1.0, 2.5), "A"), Turn(Span(2.5, 6.0), "B")), exclusive=True)
    (out,) = transcribe_inputs(FakeBackend(), [AsrInput(audio, diarization=Diarization(turns, exclusive))])
    assert [(s.span.start, s.speaker) for s in out.segments] == [(1.1, "A"), (2.6, "B")]
    assert [w.speaker for s in out.segments for w in s.words] == ["A", "A", "B", "B"]


def test_long_regions_are_cut_at_quiet_points() -> None:
    audio = _noise("a", 100.0, offset=50.0, quiet=(77.0, 104.0))
    limits = AsrLimits(chunks=ChunkLimits(max_seconds=30.0, search=5.0))
    pieces = plan_pieces(0, AsrInput(audio, SpeechRegions("a", (Span(50.0, 150.0),))), limits)
    spans = [p.span for p in pieces]
    assert spans[0].start == 50.0 and spans[-1].end == 150.0 and all(s.duration <= 30.0 for s in spans)
    assert all(a.end == b.start for a, b in pairwise(spans))
    assert 77.0 <= spans[0].end <= 77.2 and 104.0 <= spans[1].end <= 104.2
    assert all(p.audio.offset == pytest.approx(p.span.start) for p in pieces)


def test_short_pieces_are_padded_or_dropped() -> None:
    audio = _noise("a", 10.0)
    regions = SpeechRegions("a", (Span(1.0, 1.2), Span(3.0, 5.0)))
    padded = plan_pieces(0, AsrInput(audio, regions), AsrLimits(shortest=0.5, pad_short=True))
    assert [p.span for p in padded] == [Span(1.0, 1.2), Span(3.0, 5.0)] and len(padded[0].waveform) == 8000
    assert not padded[0].waveform[3200:].any()
    dropped = plan_pieces(0, AsrInput(audio, regions), AsrLimits(shortest=0.5))
    assert [p.span for p in dropped] == [Span(3.0, 5.0)]


def test_joined_and_widened_pieces_keep_clear_of_neighbours() -> None:
    turns = SpeakerTurns("a", (Turn(Span(1.0, 2.0), "A"), Turn(Span(2.5, 4.0), "A"), Turn(Span(4.05, 6.0), "B")),
                         exclusive=True)
    limits = AsrLimits(merge_gap=1.0, context=0.2)
    pieces = plan_pieces(0, AsrInput(_noise("a", 20.0), diarization=Diarization(turns)), limits)
    assert [(p.span, p.speaker) for p in pieces] == [(Span(0.8, 4.025), "A"), (Span(4.025, 6.2), "B")]


def test_neighbours_closer_than_twice_the_context_split_the_pause() -> None:
    regions = SpeechRegions("a", (Span(1.0, 23.55), Span(23.714, 51.7), Span(52.5, 60.0)))
    limits = AsrLimits(context=0.5, chunks=ChunkLimits(max_seconds=30.0))
    spans = [p.span for p in plan_pieces(0, AsrInput(_noise("a", 70.0), regions), limits)]
    expected = [(0.5, 23.632), (23.632, 52.1), (52.1, 60.5)]
    assert [(s.start, s.end) for s in spans] == [pytest.approx(pair) for pair in expected]
    assert all(a.end <= b.start for a, b in pairwise(spans))  # no audio in two pieces


def test_unwired_input_is_the_whole_file_or_its_speech() -> None:
    wave = np.zeros(10 * RATE, dtype=np.float32)
    wave[3 * RATE:5 * RATE] = np.random.default_rng(0).normal(0, 0.3, 2 * RATE)
    audio = Audio("a", wave, offset=20.0)
    assert [p.span for p in plan_pieces(0, AsrInput(audio), AsrLimits())] == [Span(20.0, 30.0)]
    (speech,) = plan_pieces(0, AsrInput(audio), AsrLimits(find_speech=True))
    assert 22.9 <= speech.span.start <= 23.0 and 25.0 <= speech.span.end <= 25.1


def test_a_backend_may_identify_the_language_once_per_recording() -> None:
    backend = RecordingLanguageBackend()
    german, french = _noise("german", 4.0), _noise("french", 3.0)
    silent = AsrInput(german, SpeechRegions("german", ()))
    out = transcribe_inputs(backend, [AsrInput(german), silent, AsrInput(french)])
    assert backend.identified == [0, 2]  # once per input that has pieces
    assert [[(s.language, s.language_confidence) for s in t.segments] for t in out] == [
        [("de", 0.9)], [], [("fr", 0.9)]]


def test_nothing_to_transcribe() -> None:
    backend = FakeBackend()
    assert transcribe_inputs(backend, []) == []
    audio = _noise("a", 1.0)
    assert transcribe_inputs(backend, [AsrInput(audio, SpeechRegions("a", ()))])[0].segments == ()
    assert backend.calls == []


def test_partial_transcripts_are_time_prefixes_reported_as_pieces_finish() -> None:
    from qasr_plugins.partials import listening

    first, second = _noise("a", 40.0), _noise("b", 10.0)
    regions = SpeechRegions("a", (Span(0.0, 2.0), Span(5.0, 10.0), Span(20.0, 23.0), Span(30.0, 38.0)))
    reported: list[tuple[int, tuple[float, ...]]] = []
    backend = FakeBackend(AsrLimits(batch_size=1))  # one piece a call, longest first
    with listening(lambda index, partial: reported.append((index, tuple(s.span.start for s in partial.segments)))):
        final = transcribe_inputs(backend, [AsrInput(first, regions), AsrInput(second)])
    # b's one piece (10 s) is decoded first; a's finish 30 s, 5 s, 20 s, 0 s: no time prefix until the last one
    assert reported == [(1, (0.1,)), (0, (0.1, 5.1, 20.1, 30.1))]
    assert reported[1][1] == tuple(s.span.start for s in final[0].segments)
    reported.clear()
    transcribe_inputs(FakeBackend(), [AsrInput(first, regions)])  # nobody listens: nothing is reported
    assert reported == []


def test_partial_transcripts_grow_in_time_order() -> None:
    from qasr_plugins.partials import listening

    audio = _noise("a", 40.0)
    regions = SpeechRegions("a", (Span(0.0, 8.0), Span(10.0, 15.0), Span(20.0, 23.0), Span(30.0, 32.0)))
    reported: list[tuple[float, ...]] = []
    with listening(lambda _, partial: reported.append(tuple(s.span.start for s in partial.segments))):
        transcribe_inputs(FakeBackend(AsrLimits(batch_size=1)), [AsrInput(audio, regions)])
    assert reported == [(0.1,), (0.1, 10.1), (0.1, 10.1, 20.1), (0.1, 10.1, 20.1, 30.1)]
