"""``pyannote.vad``: pyannote's VoiceActivityDetection as a stage, on the tiny local segmentation model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from qasr_plugins import Pipeline
from qasr_plugins.adapters.pyannote.vad import PyannoteVad
from qasr_plugins.stage import VadInput
from qasr_plugins.testing.contract import StageContract
from qasr_plugins.types import Audio

SETTINGS = {"onset": 0.6, "offset": 0.4, "min_duration_on": 0.1, "min_duration_off": 0.2}


@pytest.fixture(scope="module")
def tiny_pipeline_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from qasr_plugins.adapters.pyannote.tiny import build_tiny_diarization_pipeline

    return build_tiny_diarization_pipeline(tmp_path_factory.mktemp("pyannote") / "community-1-tiny")


def test_same_regions_as_pyannotes_own_pipeline(tiny_pipeline_dir: Path, sample_wav: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from pyannote.audio.pipelines import VoiceActivityDetection

    from qasr_plugins.audio import load_audio

    monkeypatch.setenv("PYANNOTE_METRICS_ENABLED", "true")  # what importing pyannote.audio leaves when unset
    stage = PyannoteVad(checkpoint=str(tiny_pipeline_dir), subfolder="segmentation", **SETTINGS)
    stage.ensure_loaded()
    assert os.environ["PYANNOTE_METRICS_ENABLED"] == "false"  # telemetry off unless asked for
    audio = load_audio(sample_wav)
    later = Audio("later", audio.waveform, offset=30.0)
    regions, shifted = stage.process([VadInput(audio), VadInput(later)])

    reference = VoiceActivityDetection(segmentation=str(tiny_pipeline_dir / "segmentation" / "pytorch_model.bin"))
    reference.onset, reference.offset = SETTINGS["onset"], SETTINGS["offset"]  # fixed for powerset models
    reference.instantiate({"min_duration_on": SETTINGS["min_duration_on"],
                           "min_duration_off": SETTINGS["min_duration_off"]})
    theirs = [(round(s.start, 6), round(s.end, 6))
              for s in reference(audio.to_pyannote()).get_timeline().support()]
    assert theirs and [(round(r.start, 6), round(r.end, 6)) for r in regions] == theirs
    assert [(round(r.start - 30.0, 6), round(r.end - 30.0, 6)) for r in shifted] == theirs


def test_thresholds_change_the_regions(tiny_pipeline_dir: Path, sample_wav: Path) -> None:
    from qasr_plugins.audio import load_audio

    audio = load_audio(sample_wav)
    found = []
    for onset in (0.3, 0.9):
        stage = PyannoteVad(checkpoint=str(tiny_pipeline_dir), subfolder="segmentation", onset=onset, offset=onset)
        found.append(stage(VadInput(audio)).duration)
    assert found[0] > found[1]


def test_preset_in_a_pipeline(tiny_pipeline_dir: Path, sample_wav: Path) -> None:
    pipeline = Pipeline.from_config("vad", ["stages/vad=pyannote", f"stages.vad.checkpoint={tiny_pipeline_dir}",
                                            "stages.vad.subfolder=segmentation"])
    assert pipeline.spec.node("vad").stage_name == "pyannote.vad"
    assert pipeline(sample_wav).speech is not None


def test_missing_model_is_a_coded_error(tmp_path: Path) -> None:
    from qasr_plugins.errors import StageError

    with pytest.raises(StageError) as caught:
        PyannoteVad(checkpoint=str(tmp_path)).ensure_loaded()  # a directory without pytorch_model.bin
    assert caught.value.code == "S404" and "local checkpoint" in caught.value.hint
    with pytest.raises(StageError) as caught:
        PyannoteVad(checkpoint="community-1/", subfolder="segmentation").ensure_loaded()  # a typo'd directory
    assert caught.value.code == "S404" and caught.value.message == \
        "cannot load pyannote segmentation model 'community-1/segmentation': no such file or directory."


class TestPyannoteVadContract(StageContract):
    stage_class = PyannoteVad
    registered_name = "pyannote.vad"

    def make_stage(self):
        return PyannoteVad(checkpoint=str(self.checkpoint), subfolder="segmentation")

    @pytest.fixture(autouse=True)
    def _checkpoint(self, tiny_pipeline_dir: Path) -> None:
        type(self).checkpoint = tiny_pipeline_dir
