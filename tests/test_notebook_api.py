"""The notebook API: pipelines from dicts, swapped nodes and overrides as new validated pipelines, timings."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from qasr_plugins import Pipeline
from qasr_plugins.errors import ConfigError
from qasr_plugins.testing import dummy_audio

INLINE = {"defaults": [{"/stages/vad": "energy"}, "_self_"], "graph": {"vad": {"kind": "vad"}},
          "outputs": {"formats": ["json"]}}


def test_from_config_takes_a_dict_or_a_dictconfig() -> None:
    for source in (INLINE, OmegaConf.create(INLINE)):
        pipeline = Pipeline.from_config(source, ["stages.vad.threshold_db=-30"])
        assert pipeline.spec.node("vad").stage_name == "energy.vad"
        assert pipeline.spec.node("vad").config.threshold_db == -30
    inline = {"graph": {"vad": {"kind": "vad"}}, "stages": {"vad": {"name": "energy.vad"}}}
    assert Pipeline.from_config(inline).spec.node("vad").stage_name == "energy.vad"


@pytest.mark.parametrize(("config", "code"), [
    ({"graph": {"vad": {"kind": "nope"}}, "stages": {"vad": {"name": "energy.vad"}}}, "C110"),
    ({"graph": {"vad": {"kind": "vad"}}, "stages": {"vad": {"name": "no.such.vad"}}}, "C101"),
    ({"graph": {"vad": {"kind": "vad"}}, "stages": {"vad": {"name": "energy.vad", "typo": 1}}}, "C102"),
    ({"graph": {"asr": {"kind": "asr", "inputs": {"speech": "vad"}}},
      "stages": {"asr": {"name": "faster_whisper.asr"}}}, "C105"),
    ({"hydra": {"run": {"dir": "x"}}, "graph": {}}, "C117"),
])
def test_bad_dicts_give_coded_errors(config: dict, code: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Pipeline.from_config(config)
    assert code in str(caught.value)


def test_replace_swaps_a_preset_or_a_stage_and_leaves_the_original() -> None:
    offline = Pipeline.from_config("offline", ["stages.vad.threshold=0.4"])
    energy = offline.replace("vad", "energy")
    assert energy.spec.node("vad").stage_name == "energy.vad"
    assert energy.spec.node("diar").stage_name == "embedded.diarization"
    assert offline.spec.node("vad").stage_name == "silero.vad" and offline.spec.node("vad").config.threshold == 0.4
    assert energy.overrides == ("stages/vad=energy",)  # the old node's settings go, with their overrides
    stage = offline.replace("vad", "energy.vad", threshold_db=-28.5)  # a registered name: its own defaults
    assert stage.spec.node("vad").config.threshold_db == -28.5
    diar = offline.replace("diar", "embedded", num_speakers=2)  # the preset at stages.diar (not stages.diarization)
    assert diar.spec.node("diar").config.num_speakers == 2 and offline.spec.node("diar").config.num_speakers is None
    large = offline.replace("asr", "faster_whisper_large_v3")  # validates; nothing is downloaded until it runs
    assert large.spec.node("asr").config.model == "large-v3" and offline.spec.node("asr").config.model != "large-v3"


def test_replace_and_with_overrides_validate() -> None:
    offline = Pipeline.from_config("offline")
    with pytest.raises(ConfigError, match="C105"):
        offline.replace("nope", "energy")
    with pytest.raises(ConfigError, match="C102"):
        offline.replace("vad", "energy", threshold=0.5)  # silero's setting does not survive the swap
    with pytest.raises(ConfigError, match="C101"):
        offline.replace("vad", "no.such.vad")
    with pytest.raises(ConfigError, match="C102"):
        offline.with_overrides(["stages.vad.no_such_key=1"])
    two = offline.with_overrides(["stages.diar.num_speakers=2"]).with_overrides("stages.vad.threshold=0.6")
    assert two.spec.node("diar").config.num_speakers == 2 and two.spec.node("vad").config.threshold == 0.6
    assert two is not offline and offline.overrides == ()


def test_describe_repr_and_html_show_the_graph() -> None:
    pipeline = Pipeline.from_config("offline", ["stages.diar.num_speakers=2"])
    assert repr(pipeline) == pipeline.describe() and "embedded.diarization" in pipeline.describe()
    html = pipeline._repr_html_()
    for text in ("silero.vad", "embedded.diarization", "faster_whisper.asr", "speech ← vad", "num_speakers=2"):
        assert text in html
    assert "device=" not in html.split("diar</b>")[1].split("</tr>")[0]  # defaults are not listed


def test_timings_map_each_node_to_its_seconds() -> None:
    document = Pipeline.from_config("vad", ["stages/vad=energy"])(dummy_audio(4.0, [(1.0, 3.0)]))
    assert list(document.timings) == ["vad"] and document.timings["vad"] >= 0
    assert document.timings["vad"] == document.provenance[0].wall_time
