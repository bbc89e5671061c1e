"""A ``.nemo`` whose weights pickle runs code is refused (``S407``) by the NeMo stages and the CTC aligner unless
``trust_checkpoint`` is set; the tiny ``.nemo`` builders write weights-only pickles, which load without it."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from planted import plant

from qasr_plugins.errors import StageError

pytest.importorskip("nemo.collections.asr")


@pytest.fixture(scope="module")
def tiny_ctc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from qasr_plugins.adapters.nemo.tiny import build_tiny_ctc_model

    return build_tiny_ctc_model(tmp_path_factory.mktemp("nemo") / "tiny_ctc.nemo")


def _planted_copy(source: Path, target: Path, marker: Path) -> Path:
    """``source`` with the first tensor of its ``model_weights.ckpt`` planted."""
    import torch

    with tarfile.open(source, "r:*") as original, tarfile.open(target, "w:") as copy:
        for member in original.getmembers():
            handle = original.extractfile(member)
            if handle is None:
                copy.addfile(member)
                continue
            data = handle.read()
            if member.name.endswith("model_weights.ckpt"):
                buffer = io.BytesIO()
                torch.save(plant(torch.load(io.BytesIO(data), weights_only=True), marker), buffer)
                data = buffer.getvalue()
            member.size = len(data)
            copy.addfile(member, io.BytesIO(data))
    return target


@pytest.mark.parametrize("stage", ["nemo.asr", "ctc.aligner"])
def test_a_nemo_file_that_runs_code_loads_only_with_opt_in(stage: str, tiny_ctc: Path, tmp_path: Path) -> None:
    from qasr_plugins import registry

    marker = tmp_path / "ran"
    model = _planted_copy(tiny_ctc, tmp_path / "planted.nemo", marker)
    stage_class = registry.load("asr" if stage == "nemo.asr" else "align", stage)
    with pytest.raises(StageError) as info:
        stage_class(model=str(model)).ensure_loaded()
    error = info.value
    assert error.code == "S407" and error.where == "model"
    assert "model_weights.ckpt" in error.message and "trust_checkpoint: true" in error.hint
    assert not marker.exists()
    stage_class(model=str(model), trust_checkpoint=True).ensure_loaded()
    assert marker.exists()


def test_tiny_nemo_files_load_without_opt_in(tiny_ctc: Path) -> None:
    from qasr_plugins.adapters.nemo.loading import check_nemo_file

    check_nemo_file(str(tiny_ctc))  # weights-only: a state dict of tensors


def test_the_clustering_diarizer_loads_a_speaker_model_that_runs_code_only_with_opt_in(tmp_path: Path) -> None:
    from qasr_plugins.adapters.nemo.clustering import NemoClustering
    from qasr_plugins.adapters.nemo.tiny import build_tiny_speaker_model

    safe = build_tiny_speaker_model(tmp_path / "speaker.nemo")
    NemoClustering(model=str(safe)).ensure_loaded()
    marker = tmp_path / "ran"
    model = _planted_copy(safe, tmp_path / "planted.nemo", marker)
    with pytest.raises(StageError) as info:
        NemoClustering(model=str(model)).ensure_loaded()
    assert info.value.code == "S407" and not marker.exists()
    NemoClustering(model=str(model), trust_checkpoint=True).ensure_loaded()
    assert marker.exists()
