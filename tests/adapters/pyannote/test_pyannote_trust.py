"""``pyannote.diarization`` loads nothing that could run code unless ``trust_checkpoint`` is set: a checkpoint
pickle that runs code, or a ``config.yaml`` naming a class outside pyannote.audio, is refused with ``S407``."""

from __future__ import annotations

from pathlib import Path

import pytest
from planted import plant

from qasr_plugins.errors import StageError

pytest.importorskip("pyannote.audio")

from qasr_plugins.adapters.pyannote.diarization import PyannoteDiarization

PLANTED_PIPELINE = """\
from pathlib import Path

from pyannote.audio import Pipeline


class Planted(Pipeline):
    def __init__(self, marker, **kwargs):
        super().__init__()
        Path(marker).write_text("ran")
"""


@pytest.fixture()
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from qasr_plugins.adapters.pyannote.tiny import build_tiny_diarization_pipeline

    monkeypatch.setenv("PYANNOTE_METRICS_ENABLED", "0")
    return build_tiny_diarization_pipeline(tmp_path / "tiny")


def _plant_segmentation(pipeline: Path, marker: Path) -> Path:
    import torch

    file = pipeline / "segmentation" / "pytorch_model.bin"
    checkpoint = torch.load(file, weights_only=False)
    plant(checkpoint["state_dict"], marker)
    torch.save(checkpoint, file)
    return file


def _refused(**settings: object) -> StageError:
    with pytest.raises(StageError) as info:
        PyannoteDiarization(**settings).ensure_loaded()
    error = info.value
    assert error.code == "S407" and error.where == "checkpoint"
    assert "trust_checkpoint: true" in error.hint and "--trust-checkpoints" in error.hint
    return error


def test_the_tiny_pipeline_loads_without_opt_in(tiny: Path) -> None:
    PyannoteDiarization(checkpoint=str(tiny)).ensure_loaded()


def test_a_checkpoint_that_runs_code_loads_only_with_opt_in(tiny: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    file = _plant_segmentation(tiny, marker)
    error = _refused(checkpoint=str(tiny))
    assert str(file) in error.message and "GLOBAL eval" in error.message
    assert not marker.exists()
    PyannoteDiarization(checkpoint=str(tiny), trust_checkpoint=True).ensure_loaded()
    assert marker.exists()


def test_checkpoints_pyannote_loads_itself_are_weights_only(tiny: Path, tmp_path: Path) -> None:
    """What the config check cannot see (models pyannote fetches from the hub) is still loaded weights-only."""
    import pickle

    from pyannote.audio import Model

    from qasr_plugins.adapters.pyannote.trust import loading

    marker = tmp_path / "ran"
    file = _plant_segmentation(tiny, marker)
    with pytest.raises(pickle.UnpicklingError), loading(trusted=False):
        Model.from_pretrained(str(file))
    assert not marker.exists()
    with loading(trusted=False):
        Model.from_pretrained(str(tiny / "embedding"))  # pyannote's own checkpoints pass


def test_a_config_naming_another_class_loads_only_with_opt_in(tiny: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "ran"
    (tmp_path / "planted_pipeline.py").write_text(PLANTED_PIPELINE)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tiny / "config.yaml").write_text(f"pipeline:\n  name: planted_pipeline.Planted\n  params:\n"
                                      f"    marker: {marker}\n")
    error = _refused(checkpoint=str(tiny / "config.yaml"))
    assert "pipeline.name" in error.message and "planted_pipeline.Planted" in error.message
    assert not marker.exists()
    PyannoteDiarization(checkpoint=str(tiny), trust_checkpoint=True).ensure_loaded()
    assert marker.exists()


@pytest.mark.parametrize("config", [
    "pipeline:\n  name: pyannote.audio.core.model.pl_load\n",  # a function of pyannote.audio, not a class
    "pipeline:\n  name: pyannote.audio.Model\n",  # a class of pyannote.audio, not a pipeline
    "pipeline:\n  name: SpeakerDiarization\n",  # a bare name resolves into pyannote.pipeline.blocks
    ("pipeline:\n  name: pyannote.audio.pipelines.SpeakerDiarization\n"
     "preprocessors:\n  audio:\n    name: os.system\n"),
    ("pipeline:\n  name: pyannote.audio.pipelines.SpeakerDiarization\n  params:\n"
     "    embedding: speechbrain/spkrec-ecapa-voxceleb\n"),  # SpeechBrain's hyperparams.yaml names any class
])
def test_config_entries_outside_pyannote_audio_are_refused(tiny: Path, config: str) -> None:
    (tiny / "config.yaml").write_text(config)
    _refused(checkpoint=str(tiny))


def test_the_setting_is_validated_with_the_rest_of_the_config() -> None:
    from qasr_plugins.errors import ConfigError
    from qasr_plugins.settings import build_config

    with pytest.raises(ConfigError) as info:
        build_config(PyannoteDiarization, {"trust_checkpoint": "perhaps"}, "stages.diar", "pyannote.diarization")
    assert info.value.code == "C103" and "stages.diar.trust_checkpoint" in str(info.value)


def test_the_vad_stage_loads_a_segmentation_that_runs_code_only_with_opt_in(tiny: Path, tmp_path: Path) -> None:
    from qasr_plugins.adapters.pyannote.vad import PyannoteVad

    PyannoteVad(checkpoint=str(tiny), subfolder="segmentation").ensure_loaded()  # the tiny model is safe
    marker = tmp_path / "ran"
    _plant_segmentation(tiny, marker)
    with pytest.raises(StageError) as info:
        PyannoteVad(checkpoint=str(tiny), subfolder="segmentation").ensure_loaded()
    assert info.value.code == "S407" and info.value.where == "checkpoint" and not marker.exists()
    PyannoteVad(checkpoint=str(tiny), subfolder="segmentation", trust_checkpoint=True).ensure_loaded()
    assert marker.exists()
