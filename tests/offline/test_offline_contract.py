"""The offline stages pass the contract suite every plugin runs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import pytest
import soundfile as sf

from qasr_plugins.adapters.whisper.asr import FasterWhisperAsr
from qasr_plugins.stages.embedded_diarization import EmbeddedDiarization
from qasr_plugins.stages.known_speakers import KnownSpeakers
from qasr_plugins.testing.contract import StageContract
from qasr_plugins.testing.dummies import dummy_audio


class TestFasterWhisperAsrContract(StageContract):
    stage_class = FasterWhisperAsr
    settings: ClassVar[Mapping[str, Any]] = {"local_files_only": True}
    registered_name = "faster_whisper.asr"


class TestEmbeddedDiarizationContract(StageContract):
    stage_class = EmbeddedDiarization
    registered_name = "embedded.diarization"


@pytest.fixture(scope="module")
def reference_clip(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("clips") / "a.wav"
    sf.write(path, dummy_audio(4.0).waveform, 16_000)
    return str(path)


class TestKnownSpeakersContract(StageContract):
    stage_class = KnownSpeakers
    registered_name = "known_speakers"

    @pytest.fixture(autouse=True)
    def _enrolled(self, reference_clip: str) -> None:
        self.settings = {"references": {"Someone": [reference_clip]}}
