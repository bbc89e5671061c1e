"""Tunable ranges declared next to stage settings (qasr_plugins.tuning)."""

from __future__ import annotations

import pytest
from pydantic import Field

from qasr_plugins.stage import StageConfig
from qasr_plugins.stages.attribution import MaxOverlapConfig
from qasr_plugins.stages.embedded_diarization import EmbeddedDiarizationConfig
from qasr_plugins.stages.energy_vad import EnergyVadConfig
from qasr_plugins.stages.silero_vad import SileroVadConfig
from qasr_plugins.tuning import Tunable, categorical, integer, log_uniform, uniform


class _Config(StageConfig):
    threshold: float = Field(0.5, gt=0, lt=1, json_schema_extra=uniform(0.1, 0.9))
    rate: float = Field(1e-3, gt=0, json_schema_extra=log_uniform(1e-4, 1e-1))
    frames: int = Field(3, ge=1, json_schema_extra=integer(1, 10))
    mode: str = Field("fast", json_schema_extra=categorical("fast", "exact"))
    by_hand: float = Field(0.2, json_schema_extra={"tune": {"uniform": [0.0, 1.0]}})
    fixed: float = 0.3


def test_declared_ranges_are_read_back_in_declaration_order() -> None:
    assert _Config.tunable() == {
        "threshold": Tunable("threshold", "uniform", (0.1, 0.9)),
        "rate": Tunable("rate", "log_uniform", (1e-4, 1e-1)),
        "frames": Tunable("frames", "integer", (1, 10)),
        "mode": Tunable("mode", "categorical", ("fast", "exact")),
        "by_hand": Tunable("by_hand", "uniform", (0.0, 1.0)),
    }
    assert _Config.model_json_schema()["properties"]["threshold"]["tune"] == {"uniform": [0.1, 0.9]}


@pytest.mark.parametrize("extra", [{"tune": {"gaussian": [0, 1]}}, {"tune": {"uniform": [1, 0]}},
                                   {"tune": {"uniform": [0, 1], "integer": [0, 1]}}, {"tune": {"categorical": []}}])
def test_malformed_declarations_name_the_setting(extra: dict) -> None:
    class Bad(StageConfig):
        x: float = Field(0.5, json_schema_extra=extra)

    with pytest.raises(ValueError, match="setting 'x'"):
        Bad.tunable()


def test_helpers_reject_empty_ranges() -> None:
    with pytest.raises(ValueError):
        uniform(1.0, 1.0)
    with pytest.raises(ValueError):
        log_uniform(0.0, 1.0)


def test_first_party_ranges_lie_inside_each_setting_and_hold_its_default() -> None:
    for config in (EnergyVadConfig, SileroVadConfig, EmbeddedDiarizationConfig, MaxOverlapConfig):
        assert config.tunable()
        for name, tunable in config.tunable().items():
            low, high = tunable.values
            config(**{name: low})  # validates
            assert low <= config.model_fields[name].default <= high, name
