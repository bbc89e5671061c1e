"""Swapping a registered stage in by name (``stages/<kind>=@<stage>``), deleting null keys, and the settings of
writers a run does not write."""

from __future__ import annotations

from pathlib import Path

import pytest

from qasr_plugins.errors import ConfigError, ConfigErrors
from qasr_plugins.graph import load_pipeline

#: A node whose settings key (``diar``) is not its kind, its preset pulled with a package like a packaged pipeline's.
DIAR_PIPELINE = {
    "defaults": [{"/stages/vad": "fake"}, {"/stages/diarization@stages.diar": "fake"}, "_self_"],
    "graph": {"vad": {"kind": "vad"}, "diar": {"kind": "diarization", "inputs": {"speech": "vad"}}},
    "outputs": {"formats": ["rttm"]},
}


def _errors(pipeline, overrides) -> set[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        load_pipeline(pipeline, overrides)
    errors = info.value.errors if isinstance(info.value, ConfigErrors) else [info.value]
    return {(e.code, e.where) for e in errors}


def test_a_swap_replaces_the_whole_preset_with_the_stage_defaults(fake_pipeline: Path) -> None:
    # the fake preset sets window/gap, which good.vad does not have: they must go with the preset
    spec = load_pipeline(fake_pipeline, ["stages/vad=@good.vad"])
    assert spec.node("vad").stage_name == "good.vad" and spec.config["stages"]["vad"] == {"name": "good.vad"}
    assert spec.node("vad").config.everything is True


@pytest.mark.parametrize("order", ["setting first", "swap first"])
def test_setting_overrides_apply_to_the_swapped_stage_wherever_they_stand(fake_pipeline: Path, order: str) -> None:
    overrides = ["stages.vad.everything=false", "stages/vad=@good.vad"]
    spec = load_pipeline(fake_pipeline, overrides if order == "setting first" else overrides[::-1])
    assert spec.node("vad").config.everything is False


def test_a_swap_also_drops_the_pipelines_own_settings_of_that_node(fake_pipeline) -> None:
    pipeline = {**DIAR_PIPELINE, "stages": {"vad": {"window": 3.0}}}
    assert load_pipeline(pipeline).node("vad").config.window == 3.0
    assert load_pipeline(pipeline, ["stages/vad=@good.vad"]).config["stages"]["vad"] == {"name": "good.vad"}


@pytest.mark.parametrize("swap", ["stages/diarization@stages.diar=@good.diarization", "stages.diar=@good.diarization",
                                  "+stages.diar=@good.diarization"])
def test_a_node_whose_settings_key_is_not_its_kind_is_swapped_too(fake_pipeline, swap: str) -> None:
    from qasr_plugins.testing import register_stage
    from qasr_plugins.testing.fakes import FakeDiarization

    with register_stage("diarization", "good.diarization", FakeDiarization):
        spec = load_pipeline(DIAR_PIPELINE, [swap, "stages.diar.speakers=3"])
    node = spec.node("diar")
    assert (node.stage_name, node.config.speakers) == ("good.diarization", 3)
    assert spec.config["stages"]["diar"] == {"name": "good.diarization", "speakers": 3}
    assert "diarization" not in spec.config["stages"]


def test_a_swap_to_a_node_without_any_settings_adds_them(fake_plugins) -> None:
    spec = load_pipeline({"graph": {"vad": {"kind": "vad"}}}, ["stages.vad=@good.vad"])
    assert spec.node("vad").stage_name == "good.vad"


def test_a_swap_to_an_unknown_stage_is_reported_at_its_name(fake_pipeline: Path) -> None:
    assert _errors(fake_pipeline, ["stages/vad=@good.vda"]) == {("C101", "stages.vad.name")}


def test_a_swap_without_a_stage_name_is_a_malformed_override(fake_pipeline: Path) -> None:
    assert _errors(fake_pipeline, ["stages/vad=@"]) == {("C112", str(fake_pipeline))}


def test_deleting_a_null_setting_falls_back_to_the_stage_default(fake_pipeline: Path) -> None:
    spec = load_pipeline(fake_pipeline, ["stages/asr=fake_nolid", "~stages.asr.language"])
    assert "language" not in spec.config["stages"]["asr"] and spec.node("asr").config.language == "en"
    spec = load_pipeline(fake_pipeline, ["~stages.asr.words_per_second"])  # a non-null one, as before
    assert "words_per_second" not in spec.config["stages"]["asr"]


def test_deleting_a_key_that_is_not_there_is_an_error(fake_pipeline: Path) -> None:
    assert _errors(fake_pipeline, ["~stages.asr.langauge"]) == {("C112", str(fake_pipeline))}


def test_settings_of_a_writer_not_written_are_validated(fake_pipeline: Path) -> None:
    found = _errors(fake_pipeline, ["outputs.formats=[json]", "+outputs.writers.srt.max_char_per_line=30",
                                    "+outputs.writers.vtt.max_lines=0"])
    assert found == {("C102", "outputs.writers.srt.max_char_per_line"), ("C103", "outputs.writers.vtt.max_lines")}
    spec = load_pipeline(fake_pipeline, ["outputs.formats=[json]", "+outputs.writers.srt.max_chars_per_line=30"])
    assert [w.format for w in spec.writers] == ["json"]


def test_settings_of_an_unregistered_writer_are_still_reported(fake_pipeline: Path) -> None:
    assert _errors(fake_pipeline, ["+outputs.writers.srtt.max_lines=1"]) == {("C111", "outputs.writers.srtt")}
