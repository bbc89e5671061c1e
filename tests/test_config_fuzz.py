"""Property tests: whatever a config or an override holds, composing and validating it gives a valid spec or a
coded :class:`QasrError`, never another exception; ``qasr validate`` exits 0 or 2, never with a traceback."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from qasr_plugins.cli import app
from qasr_plugins.errors import QasrError
from qasr_plugins.graph import available_pipelines, compose, load_pipeline, validate

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(["json", "vad", "asr", "silero.vad", "", "${x}", "1e400"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                      max_leaves=8)


def paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path of a composed config (mappings and lists), the root excluded."""
    found = []
    children = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in children:
        found.append((*prefix, key))
        found.extend(paths(value, (*prefix, key)))
    return found


COMPOSED = {name: compose(name) for name in available_pipelines()}
PATHS = [(name, path) for name, config in COMPOSED.items() for path in paths(config)]


def _holds(target: Any, key: Any) -> bool:
    """Whether ``target`` (an earlier change may have made it any value) has ``key``."""
    if isinstance(target, list):
        return isinstance(key, int) and key < len(target)
    return isinstance(target, dict) and key in target


def with_value(config: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """``config`` with ``value`` at ``path``; unchanged when an earlier change removed the path."""
    mutated = copy.deepcopy(config)
    target: Any = mutated
    for key in path[:-1]:
        if not _holds(target, key):
            return config
        target = target[key]
    if isinstance(target, dict) or _holds(target, path[-1]):
        target[path[-1]] = value
    return mutated


def valid_or_coded(call: Any) -> None:
    try:
        call()
    except QasrError:
        pass


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(PATHS), values), min_size=1, max_size=3))
def test_any_value_at_any_key_of_a_shipped_pipeline_validates_or_is_coded(changes) -> None:
    (name, _), _ = changes[0]
    config = COMPOSED[name]
    for (other, path), value in changes:
        if other == name:
            config = with_value(config, path, value)
    valid_or_coded(lambda: validate(config, source=name))


keys = st.sampled_from(["stages.vad.threshold", "stages.vad", "outputs.formats", "outputs.transcript", "graph.vad",
                        "graph.vad.inputs.speech", "run.batch_files", "stages/vad", "stages/asr", "hydra.run",
                        "given.text", "name", "defaults", "outputs.writers.json.indent", "+stages.vad.extra",
                        "~stages.vad", "stages.vad.name", "graph", "outputs"])
override_values = st.one_of(st.sampled_from(["5", "[]", "[a,b]", "null", "true", "1e400", "nan", "-inf", "{}",
                                             "{a: 1}", "${oc.env:HOME}", "${hydra:runtime}", "${nope}", "'x'",
                                             "energy", "silero", "@energy.vad", "[json,srt]", "json,srt", "'"]),
                            st.text(max_size=10))
overrides = st.one_of(st.builds(lambda k, v: f"{k}={v}", keys, override_values), st.text(max_size=20))


@FUZZ
@given(st.sampled_from(sorted(COMPOSED)), st.lists(overrides, max_size=3))
def test_any_overrides_compose_and_validate_or_are_coded(name, given_overrides) -> None:
    valid_or_coded(lambda: load_pipeline(name, given_overrides))


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture],
          derandomize=True)
@given(st.lists(overrides.filter(lambda o: not o.startswith("-")), max_size=2))
def test_qasr_validate_exits_0_or_2_never_with_a_traceback(runner, given_overrides) -> None:
    result = runner.invoke(app, ["validate", "vad", "--", *given_overrides])
    assert result.exit_code in (0, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
