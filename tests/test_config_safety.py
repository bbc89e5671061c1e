"""Bad configs end in coded errors, and no config can run code, read the environment or steer Hydra."""

from __future__ import annotations

import math
import sys
import typing
from pathlib import Path

import annotated_types as at
import pytest
import yaml
from omegaconf import OmegaConf
from omegaconf._utils import get_yaml_loader
from pydantic import ValidationError
from typer.testing import CliRunner

from qasr_plugins import registry
from qasr_plugins.cli import app
from qasr_plugins.errors import ConfigError, ConfigErrors, StageError
from qasr_plugins.graph import USER_CONFIG_PATH_ENV, compose, load_pipeline
from qasr_plugins.graph.guards import REDACTED
from qasr_plugins.stage import KINDS

SECRET = "hf_s3cr3t_t0ken_value"
VAD_PIPELINE = "defaults:\n  - /stages/vad: energy\n  - _self_\ngraph:\n  vad: {kind: vad}\n"


def codes(info: pytest.ExceptionInfo[ConfigError]) -> list[tuple[str, str]]:
    errors = info.value.errors if isinstance(info.value, ConfigErrors) else [info.value]
    return [(e.code, e.where) for e in errors]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --- YAML ---------------------------------------------------------------------------------------------------------

def test_a_yaml_syntax_error_in_a_pipeline_file_is_a_c115_at_its_line(tmp_path) -> None:
    bad = write(tmp_path / "bad.yaml", VAD_PIPELINE + "outputs: {formats: [json\n")
    with pytest.raises(ConfigError) as info:
        load_pipeline(bad)
    assert info.value.code == "C115" and info.value.where == f"{bad}:7"


def test_a_yaml_syntax_error_in_a_user_preset_is_a_c115_at_its_file(tmp_path, monkeypatch) -> None:
    preset = write(tmp_path / "presets" / "stages" / "vad" / "broken.yaml", "name: energy.vad\nframe: [0.1,\n")
    monkeypatch.setenv(USER_CONFIG_PATH_ENV, str(tmp_path / "presets"))
    with pytest.raises(ConfigError) as info:
        load_pipeline("vad", ["stages/vad=broken"])
    assert info.value.code == "C115" and info.value.where.startswith(f"{preset}:")


def test_a_python_tag_constructs_nothing_and_is_a_c115(tmp_path) -> None:
    planted = tmp_path / "planted"
    tagged = write(tmp_path / "tagged.yaml", VAD_PIPELINE + f"description: !!python/object/apply:pathlib.Path.touch "
                   f"[!!python/object/apply:pathlib.Path ['{planted}']]\n")
    with pytest.raises(ConfigError) as info:
        load_pipeline(tagged)
    assert info.value.code == "C115" and info.value.where == f"{tagged}:6" and "tag" in info.value.message
    assert not planted.exists()
    assert issubclass(get_yaml_loader(), yaml.SafeLoader)  # what OmegaConf.load and Hydra read YAML with


def test_cli_reports_yaml_errors_with_exit_2_not_a_traceback(tmp_path) -> None:
    bad = write(tmp_path / "bad.yaml", "graph: {vad: {kind: vad}\n")
    result = CliRunner().invoke(app, ["validate", str(bad)])
    assert result.exit_code == 2 and "[C115]" in result.output and result.exception.__class__ is SystemExit


# --- outputs and run types ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("override", "where"), [
    ("outputs.formats=5", "outputs.formats"), ("outputs.formats=[5]", "outputs.formats"),
    ("outputs.formats=[]", "outputs.formats"), ("outputs.transcript=[a,b]", "outputs.transcript"),
    ("run.batch_files=true", "run.batch_files"),
])
def test_wrongly_typed_or_empty_outputs_and_run_settings_are_c103_at_their_path(override, where) -> None:
    with pytest.raises(ConfigErrors) as info:
        load_pipeline("vad", [override])
    assert codes(info) == [("C103", where)]


# --- finite numbers -----------------------------------------------------------------------------------------------

def first_party_configs() -> list[tuple[str, type]]:
    return [(f"{kind}:{e.name}", registry.load(kind, e.name).Config) for kind in KINDS
            for e in registry.entries(kind) if e.distribution == "qasr-plugins"]


def float_fields(config: type) -> list[str]:
    return [name for name, info in config.model_fields.items()
            if float in (typing.get_args(info.annotation) or (info.annotation,))]


@pytest.mark.parametrize(("owner", "config"), first_party_configs(), ids=lambda v: v if isinstance(v, str) else "")
def test_no_first_party_float_setting_accepts_inf_or_nan_and_each_is_bounded(owner, config) -> None:
    for name in float_fields(config):
        info = config.model_fields[name]
        assert any(isinstance(m, (at.Ge, at.Gt)) for m in info.metadata), f"{owner}.{name}: no lower bound"
        assert any(isinstance(m, (at.Le, at.Lt)) for m in info.metadata), f"{owner}.{name}: no upper bound"
        for value in (math.inf, -math.inf, math.nan):
            with pytest.raises(ValidationError) as caught:
                config.model_validate({name: value})
            assert any(err["loc"] == (name,) for err in caught.value.errors()), f"{owner}.{name} took {value}"


@pytest.mark.parametrize("value", ["1e400", "nan", "-1e400"])
def test_non_finite_durations_are_rejected_at_validation(value) -> None:
    with pytest.raises(ConfigErrors) as info:
        load_pipeline("vad", [f"stages.vad.speech_pad={value}", f"stages.vad.min_speech_duration={value}"])
    assert sorted(codes(info)) == [("C103", "stages.vad.min_speech_duration"), ("C103", "stages.vad.speech_pad")]


# --- the aligner's fallback ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("overrides", "expected"), [
    (["+stages.align.fallback=nope"], [("C101", "stages.align.fallback")]),
    (["+stages.align.fallback=qwen3.forced_aligner"], [("C150", "stages.align.fallback")]),
    (["+stages.align.fallback=ctc.aligner"], [("C103", "stages.align.fallback_settings.model")]),
    (["+stages.align.fallback=ctc.aligner", "+stages.align.fallback_settings.model=m",
      "+stages.align.fallback_settings.bogus=1"], [("C102", "stages.align.fallback_settings.bogus")]),
])
def test_the_fallback_aligner_is_validated_before_any_model_loads(overrides, expected) -> None:
    with pytest.raises(ConfigErrors) as info:
        load_pipeline("qwen3_asr_aligned", overrides)
    assert codes(info) == expected


def test_a_valid_fallback_validates() -> None:
    spec = load_pipeline("qwen3_asr_aligned", ["+stages.align.fallback=ctc.aligner",
                                               "+stages.align.fallback_settings.model=some/ctc-model"])
    assert spec.node("align").config.fallback == "ctc.aligner"


# --- environment interpolation ------------------------------------------------------------------------------------

def test_env_interpolation_is_off_in_overrides_files_and_defaults(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("QASR_TEST_TOKEN", SECRET)
    leaky = write(tmp_path / "leaky.yaml", VAD_PIPELINE + "description: ${oc.env:QASR_TEST_TOKEN}\n")
    cases = [("vad", ["stages.vad.threads=${oc.env:QASR_TEST_TOKEN}"], "stages.vad.threads"),
             (leaky, [], "description"), ("vad", ["stages/vad=${oc.env:QASR_TEST_TOKEN}"], "defaults")]
    for pipeline, overrides, where in cases:
        with pytest.raises(ConfigError) as info:
            load_pipeline(pipeline, overrides)
        assert (info.value.code, info.value.where) == ("C116", where) and SECRET not in str(info.value)
        assert "--allow-env" in info.value.hint
    nested = ["stages.vad.threads=${oc.decode:${oc.env:QASR_TEST_TOKEN}}"]
    with pytest.raises(ConfigError) as info:
        load_pipeline("vad", nested)
    assert info.value.code in ("C112", "C116") and SECRET not in str(info.value)
    assert OmegaConf.create({"x": "${oc.env:QASR_TEST_TOKEN}"}).x == SECRET  # OmegaConf's own resolver restored


def test_allowed_env_values_are_used_but_never_shown(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("QASR_TEST_DEVICE", SECRET)
    monkeypatch.setenv("QASR_TEST_THREADS", "3")
    spec = load_pipeline("qwen3_asr", ["stages.asr.device=${oc.env:QASR_TEST_DEVICE}",
                                       "stages.asr.threads=${oc.env:QASR_TEST_THREADS}"], allow_env=True)
    node = spec.node("asr")
    assert node.config.device == SECRET and node.config.threads == 3
    assert SECRET not in spec.describe() and REDACTED in spec.describe()
    assert spec.public_settings(node.settings_path, node.config)["device"] == REDACTED
    assert SECRET not in str(spec.public_config())
    monkeypatch.setenv("QASR_TEST_THREADS", SECRET)
    with pytest.raises(ConfigErrors) as info:
        load_pipeline("qwen3_asr", ["stages.asr.threads=${oc.env:QASR_TEST_THREADS}"], allow_env=True)
    assert codes(info) == [("C103", "stages.asr.threads")] and SECRET not in str(info.value)


def test_cli_allow_env_opts_in(monkeypatch) -> None:
    monkeypatch.setenv("QASR_TEST_DEVICE", SECRET)
    override = "stages.asr.device=${oc.env:QASR_TEST_DEVICE}"
    refused = CliRunner().invoke(app, ["validate", "qwen3_asr", override])
    assert refused.exit_code == 2 and "[C116]" in refused.output and SECRET not in refused.output
    allowed = CliRunner().invoke(app, ["validate", "qwen3_asr", override, "--allow-env", "--json"])
    assert allowed.exit_code == 0 and REDACTED in allowed.output and SECRET not in allowed.output


def test_a_model_path_from_the_environment_stays_out_of_load_errors(monkeypatch, tmp_path, sample_wav) -> None:
    monkeypatch.setenv("QASR_TEST_MODEL", f"/nonexistent/{SECRET}/whisper")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", "offline", str(sample_wav), "-o", str(out), "--no-cache", "--allow-env",
                                      "stages.asr.model=${oc.env:QASR_TEST_MODEL}"])
    assert result.exit_code == 2 and "[S411] stages.asr.model" in result.output, result.output
    assert SECRET not in result.output and REDACTED in result.output
    assert all(SECRET not in path.read_text() for path in out.rglob("*") if path.is_file())


# --- hydra keys ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("override", ["hydra.searchpath=[file:///tmp]", "+hydra.job.name=x", "~hydra",
                                      "hydra/launcher=basic", "stages.vad.threads=${hydra:runtime.cwd}"])
def test_hydra_overrides_are_c117(override) -> None:
    with pytest.raises(ConfigError) as info:
        load_pipeline("vad", [override])
    assert info.value.code == "C117"


@pytest.mark.parametrize("extra", ["hydra:\n  searchpath: [file:///tmp]\n",
                                   "defaults:\n  - override hydra/job_logging: disabled\n"])
def test_hydra_keys_in_a_pipeline_are_c117(tmp_path, extra) -> None:
    text = VAD_PIPELINE + extra if extra.startswith("hydra") else VAD_PIPELINE.replace(
        "defaults:\n", "defaults:\n  - override hydra/job_logging: disabled\n")
    with pytest.raises(ConfigError) as info:
        load_pipeline(write(tmp_path / "p.yaml", text))
    assert info.value.code == "C117"
    with pytest.raises(ConfigError) as info:
        compose({**yaml.safe_load(text)})
    assert info.value.code == "C117"


# --- missing libraries --------------------------------------------------------------------------------------------

def test_every_first_party_stage_declares_its_libraries_and_extra() -> None:
    import tomllib

    extras = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    for kind in KINDS:
        for entry in registry.entries(kind):
            cls = registry.load(kind, entry.name)
            if entry.distribution != "qasr-plugins" or kind == "writer" or cls.libraries is None:
                continue
            assert cls.libraries.extra in extras, entry.name
            assert not cls.libraries.missing(), f"{entry.name}: declared modules not found in the dev install"
    assert registry.load("vad", "silero.vad").libraries is not None
    assert registry.load("vad", "energy.vad").libraries is None  # the core suffices


def test_a_missing_library_names_its_extra_at_load_and_in_validate(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "silero_vad", None)  # import fails, find_spec finds nothing
    spec = load_pipeline("vad", ["stages/vad=silero"])
    (warning,) = spec.missing_libraries()
    assert (warning.code, warning.where) == ("S410", "stages.vad") and "qasr-plugins[offline]" in warning.hint
    result = CliRunner().invoke(app, ["validate", "vad", "stages/vad=silero"])
    assert result.exit_code == 0 and "warning: [S410] stages.vad" in result.output
    stage = spec.node("vad").stage_class(spec.node("vad").config)
    with pytest.raises(StageError) as info:
        stage.ensure_loaded()
    assert info.value.code == "S410" and "pip install 'qasr-plugins[offline]'" in info.value.hint
