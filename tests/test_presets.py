"""Shipped stage presets list only what differs from their stage's defaults; the rest comes from the stage."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from qasr_plugins import registry
from qasr_plugins.graph import load_pipeline, packaged_configs_dir

PRESETS = sorted((packaged_configs_dir() / "stages").glob("*/*.yaml"))


def _is_default(value: object, default: object) -> bool:
    return value == default or (isinstance(default, tuple) and list(default) == value)


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_preset_sets_no_key_to_its_stage_default(path: Path) -> None:
    settings = yaml.safe_load(path.read_text(encoding="utf-8"))
    fields = registry.load(path.parent.name, settings.pop("name")).Config.model_fields
    same = [key for key, value in settings.items()
            if _is_default(value, fields[key].get_default(call_default_factory=True))]
    assert not same, f"{path.name} repeats the stage's defaults: {', '.join(same)}; remove them"


def test_describe_shows_every_effective_setting() -> None:
    spec = load_pipeline("qwen3_asr", ["stages/asr=qwen3_asr_1.7b"])
    node = spec.node("asr")
    text = spec.describe()
    assert all(f"{node.settings_path}.{key} = " in text for key in type(node.config).model_fields)
    assert "stages.asr.model = 'Qwen/Qwen3-ASR-1.7B-hf'" in text and "stages.asr.batch_size = 8" in text
