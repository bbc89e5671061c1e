"""faster_whisper.asr passes the contract suite third-party plugins run, on the tiny multilingual Whisper."""

from __future__ import annotations

from pathlib import Path

import pytest

from qasr_plugins.adapters.whisper.asr import FasterWhisperAsr
from qasr_plugins.testing.contract import StageContract

pytest.importorskip("transformers", reason="building the tiny Whisper needs transformers")


@pytest.fixture(scope="module")
def tiny_whisper(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from qasr_plugins.adapters.whisper.tiny import build_tiny_multilingual_whisper

    return build_tiny_multilingual_whisper(tmp_path_factory.mktemp("whisper") / "tiny")


class TestTinyFasterWhisperContract(StageContract):
    stage_class = FasterWhisperAsr
    registered_name = "faster_whisper.asr"
    settings = {"compute_type": "float32"}
    settings_from_fixtures = {"model": "tiny_whisper"}
