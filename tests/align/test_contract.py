"""The aligners pass the contract suite third-party plugins run, on tiny checkpoints."""

from __future__ import annotations

from qasr_plugins.qwen3.aligner import Qwen3ForcedAligner
from qasr_plugins.stages.ctc_aligner import CtcAligner
from qasr_plugins.testing.contract import stage_contract

TestQwen3AlignerContract = stage_contract(Qwen3ForcedAligner, "qwen3.forced_aligner",
                                          settings_from_fixtures={"model": "tiny_aligner"})
TestCtcAlignerContract = stage_contract(CtcAligner, "ctc.aligner", settings_from_fixtures={"model": "tiny_ctc_dir"})
