"""The aligners pass the contract suite third-party plugins run, on tiny checkpoints."""

from __future__ import annotations

from qasr_plugins.qwen3.aligner import Qwen3ForcedAligner
from qasr_plugins.stages.ctc_aligner import CtcAligner
from qasr_plugins.testing.contract import StageContract


class TestQwen3AlignerContract(StageContract):
    stage_class = Qwen3ForcedAligner
    registered_name = "qwen3.forced_aligner"
    settings_from_fixtures = {"model": "tiny_aligner"}


class TestCtcAlignerContract(StageContract):
    stage_class = CtcAligner
    registered_name = "ctc.aligner"
    settings_from_fixtures = {"model": "tiny_ctc_dir"}
