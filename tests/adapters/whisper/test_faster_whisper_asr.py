"""faster_whisper.asr with the bundled tiny.en on real speech; clip planning without a model."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from qasr_plugins.adapters.whisper.asr import FasterWhisperAsr, FasterWhisperConfig, plan_clips, resolve_model
from qasr_plugins.errors import StageError
from qasr_plugins.stage import LANGUAGE, TEXT, WORD_TIMESTAMPS, WORDS, AsrInput
from qasr_plugins.types import Audio, Diarization, Span, SpeakerTurns, SpeechRegions, Transcript, Turn

pytestmark = pytest.mark.slow  # real bundled models on real audio

NEST = 0.01  # word spans nest in their segment within 10 ms


@pytest.fixture(scope="module")
def sample_transcript(asr, sample_audio, sample_speech) -> Transcript:
    return asr.process([AsrInput(sample_audio, sample_speech)])[0]


def test_bundled_model_resolves_to_the_wheel() -> None:
    path = Path(resolve_model("bundled:tiny.en"))
    assert (path / "model.bin").is_file() and (path / "tokenizer.json").is_file()
    assert resolve_model("/models/whisper-small") == "/models/whisper-small"
    with pytest.raises(StageError) as caught:
        resolve_model("bundled:large-v3")
    assert caught.value.code == "S404" and "bundled:tiny.en" in caught.value.hint


def test_provides_words_timestamps_and_language() -> None:
    assert FasterWhisperAsr.provides(FasterWhisperConfig()) == {TEXT, WORDS, WORD_TIMESTAMPS, LANGUAGE}
    assert FasterWhisperAsr.provides(FasterWhisperConfig(word_timestamps=False)) == {TEXT, LANGUAGE}


def test_transcribes_the_sample(sample_transcript, sample_stm, word_error_rate) -> None:
    assert "chicago" in sample_transcript.text.lower()
    assert sample_transcript.languages == ("en",)
    # Measured: 16.0 % WER for tiny.en on the sample.
    assert word_error_rate(sample_transcript, sample_stm) <= 0.24


def test_word_timestamps_nest_in_segments(sample_transcript, sample_audio) -> None:
    words = list(sample_transcript.words())
    assert len(words) > 50
    for segment in sample_transcript.segments:
        assert segment.span.end <= sample_audio.duration + NEST
        for word in segment.words:
            assert word.span is not None and word.confidence is not None and 0 <= word.confidence <= 1
            assert segment.span.start - NEST <= word.span.start <= word.span.end <= segment.span.end + NEST
    starts = [w.span.start for w in words]
    assert starts == sorted(starts)


def test_offsets_are_applied_once(asr, sample_audio, sample_transcript) -> None:
    part = sample_audio.crop(Span(14.0, 24.0))
    assert part.offset == pytest.approx(14.0)
    cropped = asr.process([AsrInput(part)])[0]
    whole: dict[str, list[float]] = {}
    for word in sample_transcript.words():
        whole.setdefault(word.text.strip(".,?!").lower(), []).append(word.span.start)
    matched = 0
    for word in cropped.words():
        assert 14.0 - NEST <= word.span.start <= word.span.end <= 24.0 + NEST
        key = word.text.strip(".,?!").lower()
        if key in ("chicago", "texas", "originally", "difference") and key in whole:
            assert min(abs(word.span.start - t) for t in whole[key]) <= 0.5, key
            matched += 1
    assert matched >= 3


def test_per_turn_transcription_sets_speakers(asr, sample_audio, sample_speech) -> None:
    turns = SpeakerTurns("sample", (Turn(Span(6.5, 14.3), "A"), Turn(Span(14.4, 18.0), "B"),
                                    Turn(Span(18.0, 21.7), "A")), exclusive=True)
    result = asr.process([AsrInput(sample_audio, sample_speech, Diarization(turns))])[0]
    assert {s.speaker for s in result.segments} == {"A", "B"}
    for segment in result.segments:
        turn = next(t for t in turns.turns if t.speaker == segment.speaker and t.span.overlap(segment.span) > 0)
        assert turn.span.start - 0.2 - NEST <= segment.span.start and segment.span.end <= turn.span.end + 0.2 + NEST
    assert "texas" in " ".join(s.text.lower() for s in result.segments if s.speaker == "B")


def test_overlapping_turns_are_transcribed_each(asr, sample_audio) -> None:
    """Turns that overlap (a given RTTM's) add up to more than the recording: faster-whisper cannot take them in
    one call, so they go in calls of pieces apart."""
    turns = SpeakerTurns("sample", (Turn(Span(0.0, 20.0), "A"), Turn(Span(6.0, 26.0), "B"),
                                    Turn(Span(14.0, 30.0), "C")))
    result = asr.process([AsrInput(sample_audio, diarization=Diarization(turns))])[0]
    assert {s.speaker for s in result.segments} == {"A", "B", "C"}


def test_silence_gives_an_empty_transcript(asr) -> None:
    import numpy as np

    silence = Audio("silence", np.zeros(16_000 * 2, dtype=np.float32))
    assert asr.process([AsrInput(silence, SpeechRegions("silence", ()))])[0].segments == ()


def _audio(seconds: float, offset: float = 0.0) -> Audio:
    import numpy as np

    return Audio("a", np.zeros(int(seconds * 16_000), dtype=np.float32), offset=offset)


def test_clips_join_one_speaker_and_never_reach_into_a_neighbour() -> None:
    turns = SpeakerTurns("a", (Turn(Span(1.0, 2.0), "A"), Turn(Span(2.5, 4.0), "A"), Turn(Span(4.05, 6.0), "B"),
                               Turn(Span(9.0, 10.0), "B")), exclusive=True)
    clips = plan_clips(AsrInput(_audio(20.0), diarization=Diarization(turns)), 30.0, 1.0, 0.2)
    assert [(round(c.span.start, 2), round(c.span.end, 2), c.speaker) for c in clips] == [
        (0.8, 4.03, "A"), (4.03, 6.2, "B"), (8.8, 10.2, "B")]
    assert all(a.span.end <= b.span.start for a, b in itertools.pairwise(clips))


def test_clips_split_long_speech_and_keep_offsets() -> None:
    speech = SpeechRegions("a", (Span(100.5, 170.5),))
    clips = plan_clips(AsrInput(_audio(80.0, offset=100.0), speech=speech), 30.0, 1.0, 0.2)
    assert len(clips) == 3 and all(c.span.duration <= 30.0 + 1e-9 for c in clips)
    assert clips[0].span.start == pytest.approx(100.3) and clips[-1].span.end == pytest.approx(170.7)
    for left, right in itertools.pairwise(clips):
        assert left.span.end <= right.span.start + 1e-9 or left.span.end - right.span.start <= 0.4
