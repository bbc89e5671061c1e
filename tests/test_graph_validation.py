"""Every validation rule has a test that fails if the rule is removed."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from qasr_plugins.errors import ConfigError, ConfigErrors
from qasr_plugins.graph import compose, load_pipeline, validate


def codes_and_paths(pipeline, overrides=()):
    with pytest.raises(ConfigError) as info:
        load_pipeline(pipeline, overrides)
    error = info.value
    errors = error.errors if isinstance(error, ConfigErrors) else [error]
    return {(e.code, e.where) for e in errors}, error


def test_packaged_pipeline_validates_without_loading_models() -> None:
    import subprocess
    import sys

    spec = load_pipeline("vad")
    assert [n.name for n in spec.nodes] == ["vad"] and spec.nodes[0].stage_name == "silero.vad"
    assert [w.format for w in spec.writers] == ["json"]
    probe = ("import sys; from qasr_plugins.graph import load_pipeline; load_pipeline('vad');"
             "print([m for m in ('torch', 'silero_vad') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_full_fake_graph_resolves_order_edges_and_capabilities(fake_pipeline: Path) -> None:
    spec = load_pipeline(fake_pipeline)
    order = [n.name for n in spec.nodes]
    assert order.index("vad") < order.index("asr") < order.index("align")
    assert spec.node("align").capabilities >= {"language", "words", "word_timestamps"}
    assert spec.transcript_node == "align"
    text = spec.describe()
    assert "align: align fake.align" in text and "asr <- " not in text and "transcript <- asr" in text


def test_unknown_pipeline_name_suggests() -> None:
    _found, error = codes_and_paths("vda")
    assert error.code == "C100" and "'vad'" in error.hint


def test_unknown_stage_name_with_suggestion() -> None:
    found, error = codes_and_paths("vad", ["stages.vad.name=silero.vda"])
    assert ("C101", "stages.vad.name") in found and "'silero.vad'" in error.render()


def test_dotted_path_is_never_imported_from_config() -> None:
    found, _ = codes_and_paths("vad", ["stages.vad.name=os:system"])
    assert ("C101", "stages.vad.name") in found


def test_unknown_key_is_rejected_with_its_path() -> None:
    found, _ = codes_and_paths("vad", ["stages.vad.treshold=0.3"])
    assert ("C102", "stages.vad.treshold") in found


def test_swapping_a_whole_preset_leaves_no_stale_keys() -> None:
    spec = load_pipeline("vad", ["stages/vad=energy"])
    assert spec.nodes[0].stage_name == "energy.vad"


def test_key_level_swap_leaves_stale_keys_that_fail_with_exact_paths() -> None:
    silero_settings = ["stages.vad.threshold=0.6", "stages.vad.min_silence_duration=0.2",
                       "stages.vad.max_speech_duration=30"]  # presets list only non-defaults: a user's settings
    found, _ = codes_and_paths("vad", [*silero_settings, "stages.vad.name=energy.vad"])
    stale = {("C102", f"stages.vad.{key}") for key in ("threshold", "min_silence_duration", "max_speech_duration")}
    assert stale - found == {("C102", "stages.vad.min_silence_duration")}  # energy.vad has that key too


def test_invalid_value_names_path() -> None:
    found, _ = codes_and_paths("vad", ["stages.vad.threshold=7"])
    assert ("C103", "stages.vad.threshold") in found


#: One override breaking the fake graph → the error code and config path it must give, and a phrase of its message.
GRAPH_ERRORS = [
    ("~graph.align.inputs", "C104", "graph.align.inputs.transcript", ""),  # a required input missing
    ("graph.asr.inputs.speech=vda", "C105", "graph.asr.inputs.speech", "'vad'"),  # an unknown node, the closest named
    ("graph.asr.inputs.speech=diarization", "C106", "graph.asr.inputs.speech",
     "takes SpeechRegions"),  # a port fed the wrong type
    ("stages/asr=fake_nolid", "C108", "graph.align.inputs.transcript", "set its language"),  # an unmet requirement
    ("+graph.asr.inputs.regions=vad", "C109", "graph.asr.inputs.regions", ""),  # no such port
    ("graph.vad.kind=vda", "C110", "graph.vad.kind", "'vad'"),  # an unknown kind, the closest named
]


@pytest.mark.parametrize(("override", "code", "path", "phrase"), GRAPH_ERRORS, ids=[e[1] for e in GRAPH_ERRORS])
def test_a_broken_graph_names_code_path_and_remedy(fake_pipeline: Path, override: str, code: str, path: str,
                                                   phrase: str) -> None:
    found, error = codes_and_paths(fake_pipeline, [override])
    assert (code, path) in found and phrase in error.render()


def test_a_wrongly_typed_port_names_both_types(fake_pipeline: Path) -> None:
    _, error = codes_and_paths(fake_pipeline, ["graph.asr.inputs.speech=diarization"])
    assert "takes SpeechRegions" in error.render() and "produces Diarization" in error.render()
    _, error = codes_and_paths(fake_pipeline, ["stages/asr=fake_nolid"])
    assert "needs 'language'" in error.render()


def test_cycle(fake_pipeline: Path) -> None:
    config = compose(fake_pipeline)
    config["stages"]["align2"] = {"name": "fake.align"}
    config["graph"]["align2"] = {"kind": "align", "inputs": {"transcript": "align"}}
    config["graph"]["align"]["inputs"]["transcript"] = "align2"
    with pytest.raises(ConfigErrors) as info:
        validate(config)
    assert "C107" in info.value.codes and "cycle" in info.value.render()


def test_unknown_output_format() -> None:
    with pytest.raises(ConfigErrors) as info:
        load_pipeline("vad", formats=["jsn"])
    assert info.value.errors[0].code == "C111" and "'json'" in info.value.render()


def test_malformed_override() -> None:
    _found, error = codes_and_paths("vad", ["stages.vad.threshold=[unclosed"])
    assert error.code == "C112"
    _found, error = codes_and_paths("qwen3_asr", ["stages.asr.context=qasr, Qwen3"])  # the shell ate the quotes
    assert error.code == "C112" and "Quote" in error.hint
    assert load_pipeline("qwen3_asr", ["stages.asr.context='qasr, Qwen3'"]).node("asr").config.context == "qasr, Qwen3"


def test_missing_preset_lists_options() -> None:
    _found, error = codes_and_paths("vad", ["stages/vad=silerro"])
    assert error.code == "C100" and "silero" in error.render()


def test_unused_stage_settings(fake_pipeline: Path) -> None:
    found, _ = codes_and_paths(fake_pipeline, ["+stages.extra.name=fake.vad"])
    assert ("C113", "stages.extra") in found


def test_two_final_transcripts_need_a_choice(fake_pipeline: Path) -> None:
    overrides = ["+stages.asr2.name=fake.asr", "+graph.asr2.kind=asr"]
    found, _ = codes_and_paths(fake_pipeline, overrides)
    assert ("C114", "outputs.transcript") in found
    spec = load_pipeline(fake_pipeline, [*overrides, "+outputs.transcript=asr2"])
    assert spec.transcript_node == "asr2"


def test_writer_requirement_against_pipeline(fake_pipeline: Path) -> None:
    with pytest.raises(ConfigErrors) as info:
        load_pipeline("vad", formats=["json", "wordlist"])
    assert [(e.code, e.where) for e in info.value.errors] == [("C108", "outputs.formats.wordlist")]
    assert "word_timestamps" in info.value.render()
    assert [w.format for w in load_pipeline(fake_pipeline, formats=["wordlist"]).writers] == ["wordlist"]


def test_all_errors_are_reported_at_once() -> None:
    found, error = codes_and_paths("vad", ["stages.vad.threshold=7", "+stages.vad.bogus=1"])
    assert {("C103", "stages.vad.threshold"), ("C102", "stages.vad.bogus")} <= found
    assert error.render().startswith("2 configuration error(s)")


def test_user_config_path_presets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    preset = tmp_path / "stages" / "vad" / "quiet.yaml"
    preset.parent.mkdir(parents=True)
    preset.write_text("name: energy.vad\nthreshold_db: -20.0\n")
    monkeypatch.setenv("QASR_CONFIG_PATH", str(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a user directory without pipelines/ is no reason for a warning
        spec = load_pipeline("vad", ["stages/vad=quiet"])
    assert spec.nodes[0].config.threshold_db == -20.0


def test_a_pipeline_file_may_start_from_a_packaged_or_user_pipeline(monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    mine = tmp_path / "my_pipeline.yaml"
    mine.write_text("defaults:\n  - offline\n  - _self_\nstages:\n  diar:\n    num_speakers: 2\n")
    spec = load_pipeline(mine)
    assert spec.name == "my_pipeline" and [n.name for n in spec.nodes] == \
        [n.name for n in load_pipeline("offline").nodes]
    assert spec.node("diar").config.num_speakers == 2
    users = tmp_path / "configs"
    (users / "pipelines").mkdir(parents=True)
    (users / "pipelines" / "team.yaml").write_text("defaults:\n  - offline\n  - _self_\nstages:\n  asr:\n"
                                                   "    beam_size: 1\n")
    monkeypatch.setenv("QASR_CONFIG_PATH", str(users))
    derived = tmp_path / "derived.yaml"
    derived.write_text("defaults:\n  - team\n  - _self_\n")
    assert load_pipeline(derived).node("asr").config.beam_size == 1  # a pipeline on QASR_CONFIG_PATH, in turn
    assert load_pipeline({"defaults": ["offline", "_self_"], "name": "inline"}).name == "inline"
    missing = tmp_path / "missing.yaml"
    missing.write_text("defaults:\n  - no_such_pipeline\n  - _self_\n")
    assert codes_and_paths(missing)[0] == {("C100", str(missing))}


def test_writer_alternative_requirements(fake_pipeline: Path) -> None:
    with pytest.raises(ConfigErrors) as info:
        load_pipeline("vad", formats=["rttm"])
    assert info.value.errors[0].code == "C108" and "diarization or speakers" in info.value.render()
    assert [w.format for w in load_pipeline(fake_pipeline, formats=["rttm"]).writers] == ["rttm"]
