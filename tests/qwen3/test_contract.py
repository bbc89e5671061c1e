"""qwen3.asr passes the contract suite third-party plugins run, on the tiny checkpoint."""

from __future__ import annotations

from qasr_plugins.qwen3.asr import Qwen3Asr
from qasr_plugins.testing.contract import StageContract


class TestQwen3AsrContract(StageContract):
    stage_class = Qwen3Asr
    registered_name = "qwen3.asr"
    settings = {"max_new_tokens": 8}
    settings_from_fixtures = {"model": "tiny_asr"}
