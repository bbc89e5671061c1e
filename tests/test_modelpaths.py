"""Which model settings can only be local paths: those are checked before anything goes to the hub."""

from __future__ import annotations

from pathlib import Path

import pytest

from qasr_plugins.modelpaths import is_local_path, missing_local_path


@pytest.mark.parametrize("model", ["/models/x", "./x", "../x", "~/x", "community-1/", "a/b/c", "titanet.nemo",
                                   "seg.ckpt", "pytorch_model.bin", "config.yaml"])
def test_paths(model: str) -> None:
    assert is_local_path(model)


@pytest.mark.parametrize("model", ["pyannote/speaker-diarization-community-1", "facebook/wav2vec2-base-960h",
                                   "titanet_large", "Qwen/Qwen3-ASR-0.6B"])
def test_hub_ids_and_bare_names(model: str) -> None:
    assert not is_local_path(model)  # a bare name may be a hub id or a pretrained name: the loader decides


def test_missing_only_when_absent(tmp_path: Path) -> None:
    assert missing_local_path(str(tmp_path / "nowhere")) and not missing_local_path(str(tmp_path))
    assert not missing_local_path("pyannote/speaker-diarization-community-1")
