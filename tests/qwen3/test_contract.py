"""qwen3.asr passes the contract suite third-party plugins run, on the tiny checkpoint."""

from __future__ import annotations

import pytest

from qasr_plugins.qwen3.asr import Qwen3Asr
from qasr_plugins.testing.contract import StageContract


class TestQwen3AsrContract(StageContract):
    stage_class = Qwen3Asr
    registered_name = "qwen3.asr"

    @pytest.fixture(autouse=True)
    def _model(self, tiny_asr):
        self.settings = {"model": str(tiny_asr), "max_new_tokens": 8}
