"""The error-code table, the generated docs/errors.md, located errors, and the one CLI error handler."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import typer
from pydantic import model_validator
from typer.testing import CliRunner

from qasr_plugins import errors
from qasr_plugins.commands.errors import handle_errors
from qasr_plugins.errors import (
    CODES,
    ConfigError,
    ConfigErrors,
    ErrorCode,
    InputError,
    PluginError,
    QasrError,
    StageError,
)
from qasr_plugins.executor import Executor
from qasr_plugins.graph import build_config, validate
from qasr_plugins.stage import StageConfig
from qasr_plugins.testing import fakes
from qasr_plugins.types import Audio

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [ROOT / "qasr_plugins", ROOT / "adapters"]
#: ``code="X123"`` (also ``code = "X123"`` class attributes) and a code written into a message, ``[X123]``.
CODE_LITERAL = re.compile(r'\bcode\s*=\s*["\']([A-Z]\d{3})["\']|\[([A-Z]\d{3})\]')


def _raised_codes() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for root in SOURCES:
        for path in root.rglob("*.py"):
            for match in CODE_LITERAL.finditer(path.read_text(encoding="utf-8")):
                found.setdefault(match.group(1) or match.group(2), set()).add(str(path.relative_to(ROOT)))
    return found


def test_the_table_lists_each_code_once_with_its_family_title_and_action() -> None:
    assert len(CODES) == len({e.code for e in errors._TABLE})
    for code, entry in CODES.items():
        assert isinstance(entry, ErrorCode) and entry.code == code
        assert re.fullmatch(r"[CPISO]\d{3}", code)
        assert entry.family is errors.FAMILIES[code[0]]
        assert entry.title and entry.action
    assert {c for c, e in CODES.items() if e.base} == {"C100", "P200", "I300", "S400", "O500"}
    with pytest.raises(AttributeError):
        CODES["C101"].title = "changed"  # type: ignore[misc]


def test_every_code_raised_in_the_source_is_in_the_table() -> None:
    unknown = {code: sorted(files) for code, files in _raised_codes().items() if code not in CODES}
    assert not unknown, f"codes raised but not in qasr_plugins.errors.CODES: {unknown}"


def test_every_code_in_the_table_is_raised_somewhere_or_is_a_base_code() -> None:
    raised = _raised_codes()
    unused = [code for code, entry in CODES.items() if code not in raised and not entry.base]
    assert not unused, f"codes in the table that nothing raises: {unused}"


def test_docs_errors_md_is_generated_from_the_table() -> None:
    committed = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    assert errors.markdown() == committed, "regenerate: python -m qasr_plugins.errors --markdown > docs/errors.md"
    done = subprocess.run([sys.executable, "-m", "qasr_plugins.errors", "--markdown"], check=True,
                          capture_output=True, text=True, cwd=ROOT)
    assert done.stdout == committed
    for code in CODES:
        assert f"| {code} |" in committed


def test_raising_a_code_outside_the_table_or_of_another_family_fails_at_once() -> None:
    with pytest.raises(ValueError, match="not in qasr_plugins.errors.CODES"):
        StageError("boom", code="S499")
    with pytest.raises(TypeError, match="belongs to InputError"):
        ConfigError("no inputs", code="I304")
    with pytest.raises(ValueError, match="Q000"):
        QasrError("no code at all")
    assert StageError("ok").code == "S400" and InputError("x", code="I304").code == "I304"


def test_plugins_raise_their_own_x9nn_codes_of_the_right_family() -> None:
    error = StageError("the vendor library refused", where="model", code="S901")
    assert error.code == "S901" and error.located("stages.asr").render().startswith("[S901] stages.asr.model:")
    assert ConfigError("bad", code="C950").code == "C950"
    with pytest.raises(TypeError, match="belongs to StageError"):
        ConfigError("bad", code="S901")
    assert not [code for code in CODES if errors.is_plugin_code(code)]  # qasr never takes the plugins' range


def test_located_prefixes_where_and_keeps_the_rest() -> None:
    error = StageError("cannot find the model", where="model", code="S404", hint="Point it elsewhere.")
    located = error.located("stages.asr")
    assert type(located) is StageError and located.code == "S404" and located.hint == error.hint
    assert located.where == "stages.asr.model" and error.where == "model"
    assert str(located) == located.render() == "[S404] stages.asr.model: cannot find the model. Point it elsewhere."
    assert StageError("no model.", code="S404", hint="Add one.").render() == "[S404] no model. Add one."
    assert StageError("no model", code="S404").render() == "[S404] no model"  # a period only before a hint
    assert StageError("no tokenizer", code="S410").located("stages.align").where == "stages.align"
    assert error.located("") is error
    nested = error.located("fallback_settings").located("stages.align")
    assert nested.where == "stages.align.fallback_settings.model"
    assert InputError("not 16 kHz", where="meeting1", code="I308").located("stages.asr").where == "meeting1"
    several = ConfigErrors([ConfigError("bad", where="a", code="C103"), ConfigError("worse", where="b",
                                                                                     code="C102")])
    moved = several.located("stages.x")
    assert [e.where for e in moved.errors] == ["stages.x.a", "stages.x.b"] and "stages.x.b" in moved.render()


def _recognizer_spec(fake_plugins):
    """A node named ``recognizer`` whose settings are ``stages.asr`` (``stage: asr``)."""
    return validate({"graph": {"recognizer": {"kind": "asr", "stage": "asr"}},
                     "stages": {"asr": {"name": "fake.asr"}}, "outputs": {"formats": ["json"]}})


def test_a_stage_error_surfaces_under_the_node_settings_path(fake_plugins, monkeypatch) -> None:
    spec = _recognizer_spec(fake_plugins)

    def failing_load(self) -> None:
        raise StageError("cannot find the model 'x'", where="model", code="S404")

    monkeypatch.setattr(fakes.FakeAsr, "load", failing_load)
    with pytest.raises(StageError) as info:
        Executor(spec).load()
    assert info.value.where == "stages.asr.model" and info.value.code == "S404"
    assert isinstance(info.value.__cause__, StageError) and info.value.__cause__.where == "model"

    def crashing_load(self) -> None:
        raise RuntimeError("no weights")

    monkeypatch.setattr(fakes.FakeAsr, "load", crashing_load)
    with pytest.raises(StageError) as info:
        Executor(spec).load()
    assert info.value.code == "S402" and info.value.where == "stages.asr"


def test_a_stage_error_while_processing_is_located_but_an_input_error_keeps_its_input(fake_plugins,
                                                                                     monkeypatch) -> None:
    spec = _recognizer_spec(fake_plugins)
    audio = Audio("meeting1", np.zeros(16000, dtype=np.float32), sample_rate=16000)

    def process(self, batch):
        if self.config.language == "en":
            raise StageError("the model cannot do this", where="language", code="S414")
        raise InputError("wrong sample rate", where=batch[0].audio.uri, code="I308")

    monkeypatch.setattr(fakes.FakeAsr, "process", process)
    (result,) = Executor(spec).process([audio])
    assert isinstance(result, StageError) and result.where == "stages.asr.language"
    other = validate({"graph": {"recognizer": {"kind": "asr", "stage": "asr"}},
                      "stages": {"asr": {"name": "fake.asr", "language": "de"}}})
    (result,) = Executor(other).process([audio])
    assert isinstance(result, InputError) and result.where == "meeting1"


def test_errors_of_config_validators_are_located_at_the_settings() -> None:
    class Config(StageConfig):
        fallback: str | None = None

        @model_validator(mode="after")
        def _not_itself(self):
            raise ConfigError("an aligner cannot fall back to itself.", where="fallback", code="C150")

    class Stage:
        pass

    Stage.Config = Config
    with pytest.raises(ConfigErrors) as info:
        build_config(Stage, {}, "stages.align", "x.aligner")
    assert [(e.code, e.where) for e in info.value.errors] == [("C150", "stages.align.fallback")]


def test_a_plugin_that_fails_to_import_stays_a_plugin_error_at_its_name(use_plugins) -> None:
    use_plugins("broken")
    with pytest.raises(ConfigErrors) as info:
        validate({"graph": {"vad": {"kind": "vad"}}, "stages": {"vad": {"name": "broken.vad"}}})
    (error,) = info.value.errors
    assert type(error) is PluginError and error.code == "P201" and error.where == "stages.vad.name"
    assert info.value.code == "C100"


def _app(error: QasrError) -> typer.Typer:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.command()
    @handle_errors
    def go(name: str, debug: bool = typer.Option(False, "--debug")) -> None:
        """Fails with ``error``."""
        raise error

    return app


def test_the_cli_handler_prints_the_rendered_error_and_exits_2() -> None:
    error = StageError("cannot find the model 'x'", where="stages.asr.model", code="S404", hint="Point it home.")
    result = CliRunner().invoke(_app(error), ["n"])
    assert result.exit_code == 2
    assert result.output == "error: [S404] stages.asr.model: cannot find the model 'x'. Point it home.\n"
    several = ConfigErrors([ConfigError("bad", where="a", code="C103"), ConfigError("worse", where="b",
                                                                                     code="C102")])
    result = CliRunner().invoke(_app(several), ["n"])
    assert result.exit_code == 2
    assert result.output == "error: 2 configuration error(s):\n  [C103] a: bad\n  [C102] b: worse\n"
    result = CliRunner().invoke(_app(error), ["n", "--debug"])
    assert result.exit_code == 2 and "Traceback" in result.output and "[S404]" in result.output


def test_every_qasr_command_uses_the_handler() -> None:
    from qasr_plugins.cli import app

    for command in app.registered_commands:
        assert getattr(command.callback, "__wrapped__", None) is not None, command.name


def test_qasr_run_without_inputs_and_eval_without_common_uris_exit_2(tmp_path: Path) -> None:
    from qasr_plugins.cli import app

    result = CliRunner().invoke(app, ["run", "vad", "stages.vad.threshold=0.5"])
    assert result.exit_code == 2 and "error: [I304] no inputs given." in result.output
    ref, hyp = tmp_path / "a.rttm", tmp_path / "b.rttm"
    ref.write_text("SPEAKER a 1 0.0 1.0 <NA> <NA> s1 <NA> <NA>\n")
    hyp.write_text("SPEAKER b 1 0.0 1.0 <NA> <NA> s1 <NA> <NA>\n")
    result = CliRunner().invoke(app, ["eval", "--ref", str(ref), "--hyp", str(hyp)])
    assert result.exit_code == 2
    assert ("error: [I313] no hypothesis shares a uri with a reference. References: a; hypotheses: b."
            in result.output)
