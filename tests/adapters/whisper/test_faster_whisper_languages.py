"""faster_whisper.asr language identification on a tiny multilingual Whisper built offline.

The model (``qasr_plugins.adapters.whisper.tiny``) identifies German on a 220 Hz tone and French on a 3 kHz tone —
real CTranslate2 identification, steered through its language embeddings — and says "hello" on any clip.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qasr_plugins.adapters.whisper import asr as faster_whisper_asr
from qasr_plugins.adapters.whisper.asr import FasterWhisperAsr, FasterWhisperConfig
from qasr_plugins.errors import ConfigErrors, StageError
from qasr_plugins.graph import load_pipeline
from qasr_plugins.stage import AsrInput
from qasr_plugins.types import Audio, Span, SpeechRegions, Transcript

pytest.importorskip("transformers", reason="building the tiny Whisper needs transformers")

RATE = 16_000
LOW, HIGH = 220.0, 3000.0  # German, French
#: three "utterances" at 2-6 s (German), 8-12 s (French) and 14-17 s (German), two seconds of silence around each
LAYOUT = ((2.0, 6.0, LOW), (8.0, 12.0, HIGH), (14.0, 17.0, LOW))


def _tone(frequency: float, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


@pytest.fixture(scope="session")
def multilingual_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from qasr_plugins.adapters.whisper.tiny import build_tiny_multilingual_whisper

    return build_tiny_multilingual_whisper(tmp_path_factory.mktemp("whisper") / "tiny-multilingual",
                                           cues={"de": _tone(LOW, 4.0), "fr": _tone(HIGH, 4.0)})


@pytest.fixture(scope="module")
def conversation() -> AsrInput:
    waveform = np.zeros(int(19.0 * RATE), dtype=np.float32)
    for start, end, frequency in LAYOUT:
        waveform[int(start * RATE):int(start * RATE) + int((end - start) * RATE)] = _tone(frequency, end - start)
    regions = tuple(Span(start, end) for start, end, _ in LAYOUT)
    return AsrInput(Audio("conversation", waveform), SpeechRegions("conversation", regions))


def _transcribe(model: Path, item: AsrInput, **settings) -> Transcript:
    stage = FasterWhisperAsr(model=str(model), compute_type="float32", **settings)
    stage.ensure_loaded()
    return stage.process([item])[0]


def _utterance(segment_span: Span) -> int:
    """Index of the utterance (in LAYOUT) a segment belongs to: the one whose padded clip holds its middle."""
    middle = (segment_span.start + segment_span.end) / 2
    return next(i for i, (start, end, _) in enumerate(LAYOUT) if start - 1.0 <= middle <= end + 1.0)


def test_the_built_model_is_multilingual_and_steered(multilingual_model: Path) -> None:
    from faster_whisper import WhisperModel

    model = WhisperModel(str(multilingual_model), compute_type="float32")
    assert model.model.is_multilingual and model.model.num_languages == 99
    assert model.detect_language(_tone(LOW, 3.0))[0] == "de"
    assert model.detect_language(_tone(HIGH, 3.0))[0] == "fr"


def test_identifies_one_language_per_recording(multilingual_model: Path) -> None:
    waveform = np.concatenate([np.zeros(RATE, np.float32), _tone(LOW, 4.0), np.zeros(RATE, np.float32),
                               _tone(LOW, 3.0), np.zeros(RATE, np.float32)])
    speech = SpeechRegions("german", (Span(1.0, 5.0), Span(6.0, 9.0)))
    result = _transcribe(multilingual_model, AsrInput(Audio("german", waveform), speech))
    assert len(result.segments) >= 2 and "hello" in result.text
    assert {(s.language, s.language_raw) for s in result.segments} == {("de", "de")}
    confidences = {s.language_confidence for s in result.segments}
    # identified once over the clips' speech: one probability, far above chance (1/99) though the clips' joined
    # features are not the cue's
    assert len(confidences) == 1 and 0.2 < confidences.pop() <= 1.0
    assert result.languages == ("de",)


def test_identifies_each_clip_when_asked(multilingual_model: Path, conversation: AsrInput) -> None:
    from faster_whisper import WhisperModel

    result = _transcribe(multilingual_model, conversation, language_detection="clip")
    reference = WhisperModel(str(multilingual_model), compute_type="float32")
    heard = {}
    for segment in result.segments:
        index = _utterance(segment.span)
        start, end, frequency = LAYOUT[index]
        heard[index] = segment.language
        assert segment.language == ("de" if frequency == LOW else "fr")
        # the probability is the one faster-whisper's own identification gives on that clip (padded by 0.2 s)
        clip = conversation.audio.crop(Span(start - 0.2, end + 0.2)).waveform
        language, probability, _ = reference.detect_language(clip)
        assert segment.language_raw == language
        assert segment.language_confidence == pytest.approx(probability, abs=0.02)
    assert heard == {0: "de", 1: "fr", 2: "de"}
    starts = [s.span.start for s in result.segments]
    assert starts == sorted(starts)


def test_recording_language_holds_across_calls(multilingual_model: Path, conversation: AsrInput,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """With one clip per pipeline call, the first (German) clip decides the language of the whole recording."""
    monkeypatch.setattr(faster_whisper_asr, "CLIPS_PER_CALL", 1)
    result = _transcribe(multilingual_model, conversation)
    assert {_utterance(s.span) for s in result.segments} == {0, 1, 2}
    assert {s.language for s in result.segments} == {"de"}
    assert len({s.language_confidence for s in result.segments}) == 1


def test_forced_language_skips_identification(multilingual_model: Path, conversation: AsrInput) -> None:
    result = _transcribe(multilingual_model, conversation, language="jv")
    assert result.segments
    for segment in result.segments:
        assert (segment.language, segment.language_raw, segment.language_confidence) == ("jv", "jw", None)


def test_language_setting_accepts_whisper_codes_and_bcp47_tags() -> None:
    assert FasterWhisperConfig(language="en-US").language == "en"
    assert FasterWhisperConfig(language="jv").language == "jw"
    assert FasterWhisperConfig(language="yue").language == "yue"
    assert FasterWhisperConfig(language=" ").language is None


def test_unknown_language_is_a_config_error_naming_the_path() -> None:
    with pytest.raises(ConfigErrors) as caught:
        load_pipeline("offline", ["stages.asr.language=klingon"])
    [error] = caught.value.errors
    assert error.code == "C103" and error.where == "stages.asr.language"
    assert "'klingon'" in error.message and "Whisper language code or BCP-47 tag" in error.message


def test_english_only_model_refuses_another_language() -> None:
    stage = FasterWhisperAsr(language="de", local_files_only=True)
    with pytest.raises(StageError) as caught:
        stage.ensure_loaded()
    assert caught.value.code == "S414" and "English-only" in caught.value.message
