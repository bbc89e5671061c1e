"""Qwen3 checkpoint directories: ``*.safetensors`` load as they are; pickled ``pytorch_model.bin`` weights load only
when torch's weights-only loader accepts them, unless ``trust_checkpoint`` is set (``S407`` otherwise)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from planted import plant

from qasr_plugins.errors import StageError
from qasr_plugins.qwen3.loading import load_model


def _as_bin(tiny: Path, target: Path, marker: Path | None) -> Path:
    """A copy of ``tiny`` whose weights are a ``pytorch_model.bin`` pickle (planted when ``marker`` is given)."""
    import torch
    from safetensors.torch import load_file

    shutil.copytree(tiny, target)
    weights = load_file(str(target / "model.safetensors"))
    (target / "model.safetensors").unlink()
    torch.save(plant(weights, marker) if marker else weights, target / "pytorch_model.bin")
    return target


def test_a_weights_only_bin_loads_without_opt_in(tiny_asr: Path, tmp_path: Path) -> None:
    loaded = load_model(str(_as_bin(tiny_asr, tmp_path / "bin", None)), kind="asr")
    assert loaded.model is not None


def test_a_bin_that_runs_code_loads_only_with_opt_in(tiny_asr: Path, tmp_path: Path) -> None:
    from qasr_plugins.qwen3.asr import Qwen3Asr

    marker = tmp_path / "ran"
    checkpoint = _as_bin(tiny_asr, tmp_path / "planted", marker)
    with pytest.raises(StageError) as info:
        Qwen3Asr(model=str(checkpoint)).ensure_loaded()
    error = info.value
    assert error.code == "S407" and error.where == "model" and "pytorch_model.bin" in error.message
    assert "trust_checkpoint: true" in error.hint
    assert not marker.exists()
    Qwen3Asr(model=str(checkpoint), trust_checkpoint=True).ensure_loaded()
    assert marker.exists()
