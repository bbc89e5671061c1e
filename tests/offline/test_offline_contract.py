"""The offline stages pass the contract suite every plugin runs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from qasr_plugins.adapters.whisper.asr import FasterWhisperAsr
from qasr_plugins.stages.embedded_diarization import EmbeddedDiarization
from qasr_plugins.testing.contract import StageContract


class TestFasterWhisperAsrContract(StageContract):
    stage_class = FasterWhisperAsr
    settings: ClassVar[Mapping[str, Any]] = {"local_files_only": True}
    registered_name = "faster_whisper.asr"


class TestEmbeddedDiarizationContract(StageContract):
    stage_class = EmbeddedDiarization
    registered_name = "embedded.diarization"
