"""The ``known_speakers`` section: it adds a naming node after the one diarization node and rewires its readers;
what it cannot do is a coded error; the CLI and the Python API fill it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from qasr_plugins.api import Pipeline
from qasr_plugins.cli import app
from qasr_plugins.errors import ConfigError, ConfigErrors, InputError
from qasr_plugins.graph import load_pipeline


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("clips") / "alice.wav"
    sf.write(path, np.random.default_rng(0).normal(0, 0.1, 16_000 * 3).astype(np.float32), 16_000)
    return str(path)


def _codes(error: ConfigError) -> set[tuple[str, str]]:
    errors = error.errors if isinstance(error, ConfigErrors) else [error]
    return {(e.code, e.where) for e in errors}


def test_the_section_adds_a_naming_node_read_instead_of_the_diarization(clip: str) -> None:
    spec = load_pipeline("offline", [f"+known_speakers.Alice=[{clip}]"])
    names = [n.name for n in spec.nodes]
    assert names.index("diar") < names.index("speakers") < names.index("words")
    speakers = spec.node("speakers")
    assert speakers.kind == "identification" and speakers.stage_name == "known_speakers"
    assert speakers.inputs == {"diarization": "diar"} and speakers.config.references == {"Alice": [clip]}
    assert spec.node("words").inputs == {"transcript": "asr", "diarization": "speakers"}
    assert spec.node("asr").inputs == {"speech": "vad"}  # nodes that did not read the diarization are unchanged
    assert "known_speakers" not in spec.config and "speakers" in spec.config["graph"]
    plain = load_pipeline("offline")
    assert "speakers" not in [n.name for n in plain.nodes]


def test_stage_settings_of_the_node_go_under_stages_speakers(clip: str) -> None:
    spec = load_pipeline("offline", [f"+known_speakers.Alice={clip}", "+stages.speakers.threshold=0.8"])
    assert spec.node("speakers").config.threshold == 0.8
    assert spec.node("speakers").config.references == {"Alice": [clip]}  # one path or a list


@pytest.mark.parametrize(("pipeline", "overrides", "expected"), [
    ("vad", [], ("C163", "known_speakers")),  # nothing to name
    ("offline", ["+graph.speakers={kind: vad}"], ("C163", "known_speakers")),  # the node name is taken
    ("offline", ["+known_speakers.Alice=/no/such/clip.wav"], ("C160", "stages.speakers.references.Alice")),
])
def test_what_the_section_cannot_do_is_coded(pipeline: str, overrides: list[str], expected: tuple[str, str],
                                             clip: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_pipeline(pipeline, [*overrides, *([] if "Alice" in " ".join(overrides) else
                                               [f"+known_speakers.Alice=[{clip}]"])])
    assert expected in _codes(info.value)


def test_a_clip_too_short_or_long_and_a_repeated_name_are_coded(tmp_path: Path, clip: str) -> None:
    short = tmp_path / "short.wav"
    sf.write(short, np.zeros(16_000, dtype=np.float32), 16_000)
    with pytest.raises(ConfigError) as info:
        load_pipeline("offline", known_speakers={"Alice": [str(short)]})
    assert ("C161", "stages.speakers.references.Alice") in _codes(info.value)
    with pytest.raises(ConfigError) as info:
        load_pipeline("offline", known_speakers={"Alice": [clip], " alice ": [clip]})
    assert {code for code, _ in _codes(info.value)} == {"C162"}


def test_the_section_must_be_a_mapping() -> None:
    with pytest.raises(ConfigError) as info:
        load_pipeline("offline", ["+known_speakers=[a.wav]"])
    assert ("C103", "known_speakers") in _codes(info.value)


def test_python_clips_in_memory_become_one_file_each(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    clip: str) -> None:
    monkeypatch.setenv("QASR_CACHE", str(tmp_path / "cache"))
    samples = np.random.default_rng(1).normal(0, 0.1, 16_000 * 4).astype(np.float32)
    pipeline = Pipeline.from_config("offline", known_speakers={"Bob": (samples, 16_000), "Alice": clip},
                                    cache=False)
    references = pipeline.spec.node("speakers").config.references
    assert references["Alice"] == [clip]
    stored = Path(references["Bob"][0])
    assert stored.parent == tmp_path / "cache" / "speakers"
    np.testing.assert_allclose(sf.read(stored, dtype="float32")[0], samples)
    again = Pipeline.from_config("offline", known_speakers={"Bob": [(samples, 16_000)]}, cache=False)
    assert again.spec.node("speakers").config.references["Bob"] == [str(stored)]  # the same clip, the same file
    # derived pipelines keep the speakers; with_known_speakers replaces them
    swapped = pipeline.replace("vad", "energy")
    assert swapped.spec.node("speakers").config.references == references
    renamed = pipeline.with_known_speakers({"Carol": clip})
    assert renamed.spec.node("speakers").config.references == {"Carol": [clip]}


@pytest.mark.parametrize(("clip", "code"), [(5, "I304"), ((np.zeros(16_000 * 3, dtype=np.float32), 0), "I304"),
                                             ((np.full(16_000 * 3, np.nan, dtype=np.float32), 16_000), "I303")])
def test_a_bad_clip_in_memory_names_its_speaker(clip: object, code: str) -> None:
    with pytest.raises(InputError) as info:
        Pipeline.from_config("offline", known_speakers={"Bob": clip}, cache=False)
    assert info.value.code == code and info.value.where == "reference clip of 'Bob'"


def test_cli_known_speaker_option(clip: str) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["validate", "offline", "--json", "--known-speaker", f"Alice={clip}",
                                 "--known-speaker", f"Alice={clip}", "--known-speaker", f"Bob={clip}"])
    assert result.exit_code == 0, result.output
    config = json.loads(result.stdout)
    assert config["stages"]["speakers"]["references"] == {"Alice": [clip, clip], "Bob": [clip]}
    bad = runner.invoke(app, ["validate", "offline", "--known-speaker", clip])
    assert bad.exit_code == 2 and "C112" in bad.output and "NAME=CLIP" in bad.output


def test_a_derived_executor_adopts_the_stages_it_shares(clip: str) -> None:
    base = Pipeline.from_config("offline", cache=False)
    named = base.with_known_speakers({"Alice": clip})
    named.executor.adopt(base.executor)
    assert all(named.executor.stages[node] is base.executor.stages[node] for node in ("vad", "diar", "asr", "words"))
    tuned = base.with_overrides(["stages.vad.threshold=0.6"])
    tuned.executor.adopt(base.executor)
    assert tuned.executor.stages["vad"] is not base.executor.stages["vad"]  # other settings: its own stage
    assert tuned.executor.stages["asr"] is base.executor.stages["asr"]


def test_an_unmatched_speaker_never_takes_an_enrolled_name(clip: str) -> None:
    from qasr_plugins.stage import IdentificationInput
    from qasr_plugins.stages.known_speakers import KnownSpeakers
    from qasr_plugins.testing.dummies import dummy_audio, dummy_diarization

    stage = KnownSpeakers(references={"SPEAKER_01": [clip]})
    stage.speaker_embeddings = lambda item: {}  # type: ignore[method-assign]
    stage.match = lambda embeddings: {"SPEAKER_00": "SPEAKER_01"}  # type: ignore[method-assign]
    diarization = dummy_diarization([("SPEAKER_00", 0.0, 1.0), ("SPEAKER_01", 1.0, 2.0)], uri="a")
    named = stage.process([IdentificationInput(dummy_audio(2.0, uri="a"), diarization)])[0]
    assert named.turns.speakers == ("SPEAKER_01", "SPEAKER_01 (not enrolled)")
