"""``qasr run --trust-checkpoints`` maps onto the ``trust_checkpoint`` setting of every stage that has one."""

from __future__ import annotations

from qasr_plugins.graph import load_pipeline
from qasr_plugins.trust import trust_overrides


def test_the_flag_sets_every_stage_that_can_load_a_checkpoint() -> None:
    chosen = ["stages.align.fallback=ctc.aligner", "+stages.align.fallback_settings={model: /models/ctc}"]
    spec = load_pipeline("qwen3_asr_aligned", chosen)
    trusted = load_pipeline("qwen3_asr_aligned", [*chosen, *trust_overrides(spec)])
    for node in trusted.nodes:
        has_setting = "trust_checkpoint" in node.stage_class.Config.model_fields
        assert getattr(node.config, "trust_checkpoint", False) is has_setting, node.name
    align = trusted.node("align").config
    assert align.fallback_settings.get("trust_checkpoint") is True  # its CTC fallback loads checkpoints too
    assert not any(getattr(n.config, "trust_checkpoint", False) for n in spec.nodes)  # off by default
    assert "trust_checkpoint" not in spec.node("align").config.fallback_settings
