"""Property tests over generated manifests and file names: every input ends as a coded failure or a correct result,
never a traceback, and every valid input has its outputs (with a bounded, unique name)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

hypothesis = pytest.importorskip("hypothesis", reason="the 'dev' extra (hypothesis) is not installed")
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qasr_plugins import Pipeline
from qasr_plugins.document import ResultDocument
from qasr_plugins.errors import CODES

FUZZ = settings(max_examples=70, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
AUDIO = ("one.wav", "two.flac")

JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                                       max_size=3), max_leaves=6)
VALID_LINES = st.fixed_dictionaries(
    {"audio_filepath": st.sampled_from(AUDIO)},
    optional={"offset": st.floats(0, 1.0) | st.integers(0, 1), "duration": st.floats(0.1, 1.0),
              "text": st.text(max_size=10)}).map(lambda entry: (json.dumps(entry).encode(), True))
RANDOM_LINES = st.one_of(
    st.binary(max_size=30),
    st.dictionaries(st.sampled_from(["audio_filepath", "offset", "duration", "text", "x"]), JSON_VALUES,
                    max_size=4).map(lambda entry: json.dumps(entry).encode()),
    st.builds(lambda path, key, value: json.dumps({"audio_filepath": path, key: value}).encode(),
              st.sampled_from(AUDIO), st.sampled_from(["offset", "duration"]), JSON_VALUES),
).map(lambda line: (line, False))
MANIFESTS = st.tuples(st.lists(VALID_LINES | RANDOM_LINES, max_size=6),
                      st.sampled_from([b"\n", b"\r\n", b"\n\n"]))

SPECIAL_NAMES = ["qasr-summary", "summary", "x.error", "x", ".qasr", "_qasr", "errors", "a" * 251, "é" * 126]
NAMES = st.one_of(st.sampled_from(SPECIAL_NAMES),
                  st.text(st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)),
                          min_size=1, max_size=130))
FILES = st.lists(st.tuples(st.integers(0, 2), NAMES, st.sampled_from([".wav", ".flac"])), min_size=1, max_size=5)


def _fit(name: str, suffix: str) -> str:
    """``name`` cut to the longest that, with ``suffix``, is a valid file name of at most 255 bytes."""
    data = name.encode()[:255 - len(suffix)]
    name = data.decode("utf-8", errors="ignore")
    return name if name not in {"", ".", ".."} else "n"


def _write(path: Path, seconds: float = 2.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.random.default_rng(0).standard_normal(int(16000 * seconds)).astype(np.float32) * 0.1, 16000)
    return path


def _check(summary, out: Path, valid_sources: set[str]) -> None:
    uris = [o.uri for o in summary.outcomes]
    assert len(set(uris)) == len(uris)
    for outcome in summary.outcomes:
        assert outcome.status in {"done", "failed"}
        if outcome.status == "failed":
            assert outcome.error["code"] in CODES and outcome.error["code"] != "S408", outcome.error
            assert outcome.source not in valid_sources, outcome.error
        else:
            assert len(f"{outcome.uri}.json".encode()) <= 255
            assert ResultDocument.load(out / f"{outcome.uri}.json").uri == outcome.uri


@FUZZ
@given(MANIFESTS)
def test_generated_manifests_never_cost_a_valid_line(fake_pipeline: Path, manifest) -> None:
    lines, separator = manifest
    pipe = Pipeline.from_config(fake_pipeline, ["+run.batch_files=3"])
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name in AUDIO:
            _write(root / name)
        path = root / "m.jsonl"
        path.write_bytes(separator.join(line for line, _ in lines))
        summary = pipe.run([path], root / "out", progress=False)
        _check(summary, root / "out", set())
        expected = sum(valid for _, valid in lines)
        assert summary.count("done") >= expected  # every valid line has its outputs; random ones may be valid too
        for outcome in summary.outcomes:  # a failure is the line's (I305) or its audio's (missing, empty, cut away)
            assert outcome.status == "done" or outcome.error["code"] in ({"I305"} if outcome.source == str(path)
                                                                         else {"I301", "I302"}), outcome.error


@FUZZ
@given(FILES)
def test_generated_file_names_all_get_distinct_bounded_outputs(fake_pipeline: Path, files) -> None:
    pipe = Pipeline.from_config(fake_pipeline, ["+run.batch_files=2"])
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths = sorted({root / f"d{folder}" / (_fit(name, suffix) + suffix) for folder, name, suffix in files})
        for path in paths:
            _write(path, seconds=1.0)
        summary = pipe.run(paths, root / "out", progress=False)
        _check(summary, root / "out", {str(p) for p in paths})
        assert summary.count("done") == len(paths)
        again = pipe.run(paths, root / "out", progress=False)  # a rerun finds every output where it left it
        assert again.count("skipped") == len(paths)
