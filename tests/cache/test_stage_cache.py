"""The stage cache: keys change exactly when an output's inputs do, entries are validated, writers never corrupt."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from pydantic import Field
from typer.testing import CliRunner

from qasr_plugins import Pipeline
from qasr_plugins.cache import RecordingId, StageCache, node_key, open_cache, stage_identity
from qasr_plugins.cache.store import ENTRY_VERSION
from qasr_plugins.cli import app
from qasr_plugins.document import ResultDocument
from qasr_plugins.stage import StageConfig, VadInput, VadStage
from qasr_plugins.testing import fakes, register_stage
from qasr_plugins.testing.dummies import dummy_audio, dummy_regions
from qasr_plugins.types import Audio, Span, SpeechRegions


def _audio(seed: int = 0, uri: str = "clip") -> Audio:
    rng = np.random.default_rng(seed)
    return Audio(uri, (rng.standard_normal(16_000 * 6) * 0.1).astype(np.float32))


def _content(document: ResultDocument) -> dict:
    data = document.to_dict()
    data.pop("provenance")
    return data


# Keys -------------------------------------------------------------------------------------------------------


class ModelVadConfig(StageConfig):
    model: str = Field("none", description="A local model file.")
    window: float = Field(1.0, gt=0)


class ModelVad(VadStage):
    """A VAD whose output depends on a model file (its size), cached through ``cache_version``."""

    config: ModelVadConfig
    cache_version: ClassVar[str | None] = "1"
    calls: ClassVar[int] = 0

    def process(self, batch: Sequence[VadInput]) -> list[SpeechRegions]:
        ModelVad.calls += len(batch)
        size = Path(self.config.model).stat().st_size if Path(self.config.model).is_file() else 0
        return [SpeechRegions(item.audio.uri, (Span(0.0, self.config.window + size / 1000),)) for item in batch]


def _identity(stage: VadStage, **changes: object) -> dict:
    fields = {"kind": "vad", "name": "model.vad", "dist": "qasr-test", "version": "1.0"} | changes
    return stage_identity(fields["kind"], fields["name"], fields["dist"], fields["version"], stage)  # type: ignore[arg-type]


def test_keys_change_exactly_when_an_input_of_the_output_does(tmp_path: Path) -> None:
    model = tmp_path / "model.bin"
    model.write_bytes(b"x" * 10)
    stage = ModelVad(model=str(model))
    recording = RecordingId.of(_audio())
    base = node_key(_identity(stage), recording, {"speech": "k1"}, {})

    assert node_key(_identity(ModelVad(model=str(model))), RecordingId.of(_audio()), {"speech": "k1"}, {}) == base
    changed = {
        "settings": node_key(_identity(ModelVad(model=str(model), window=2.0)), recording, {"speech": "k1"}, {}),
        "version": node_key(_identity(stage, version="1.1"), recording, {"speech": "k1"}, {}),
        "distribution": node_key(_identity(stage, dist="other"), recording, {"speech": "k1"}, {}),
        "stage name": node_key(_identity(stage, name="other.vad"), recording, {"speech": "k1"}, {}),
        "upstream": node_key(_identity(stage), recording, {"speech": "k2"}, {}),
        "audio bytes": node_key(_identity(stage), RecordingId.of(_audio(seed=1)), {"speech": "k1"}, {}),
        "uri": node_key(_identity(stage), RecordingId.of(_audio(uri="other")), {"speech": "k1"}, {}),
        "given": node_key(_identity(stage), recording, {"speech": "k1"}, {"text": "t"}),
    }
    shifted = Audio("clip", _audio().waveform, offset=3.0)
    changed["offset"] = node_key(_identity(stage), RecordingId.of(shifted), {"speech": "k1"}, {})
    model.write_bytes(b"x" * 11)  # the model file changes: size (and mtime)
    changed["model file"] = node_key(_identity(ModelVad(model=str(model))), recording, {"speech": "k1"}, {})
    assert all(key != base for key in changed.values()), [name for name, key in changed.items() if key == base]
    assert len(set(changed.values())) == len(changed)


def test_what_is_never_cached() -> None:
    class Random(ModelVad):
        cacheable: ClassVar[bool] = False

    class Unversioned(VadStage):
        def process(self, batch: Sequence[VadInput]) -> list[SpeechRegions]:
            return []

    assert stage_identity("vad", "r", "dist", "1", Random()) is None
    # in-process stages have no version to tell their edits apart: cached only with a cache_version
    assert stage_identity("vad", "u", "<in-process>", None, Unversioned()) is None
    assert stage_identity("vad", "m", "<in-process>", None, ModelVad()) is not None


# Runs -------------------------------------------------------------------------------------------------------


def test_a_rerun_reuses_every_node_and_loads_no_model(fake_pipeline: Path, tmp_path: Path) -> None:
    cache = StageCache(tmp_path / "cache")
    first = Pipeline.from_config(fake_pipeline, cache=cache)(_audio())
    assert set(first.cache.values()) == {"miss"}
    loads = dict(fakes.LOADS)
    again = Pipeline.from_config(fake_pipeline, cache=cache)(_audio())
    assert set(again.cache.values()) == {"hit"}
    assert fakes.LOADS == loads
    assert _content(again) == _content(first)
    assert Pipeline.from_config(fake_pipeline, cache=False)(_audio()).cache == dict.fromkeys(first.cache)


def test_swapping_one_stage_recomputes_it_and_what_depends_on_it(fake_pipeline: Path, tmp_path: Path) -> None:
    pipeline = Pipeline.from_config(fake_pipeline, cache=tmp_path / "cache")
    pipeline(_audio())
    faster = pipeline.with_overrides(["stages.asr.words_per_second=3"])
    assert faster.cached_nodes() == {"vad": True, "diarization": True, "asr": False, "align": False}
    assert "reused vad, diarization; would run asr, align" in repr(faster)
    html = faster._repr_html_()
    assert html.count(">cached<") == 2 and html.count(">runs<") == 2
    assert faster(_audio()).cache == {"vad": "hit", "diarization": "hit", "asr": "miss", "align": "miss"}
    windows = pipeline.with_overrides(["stages.vad.window=1.5"])
    assert windows(_audio()).cache == {"vad": "miss", "diarization": "miss", "asr": "miss", "align": "miss"}
    assert pipeline(_audio(seed=5)).cache == dict.fromkeys(["vad", "diarization", "asr", "align"], "miss")


def test_a_node_that_is_never_cached_passes_on_its_output(fake_pipeline: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fakes.FakeVad, "cacheable", False)
    cache = StageCache(tmp_path / "cache")
    first = Pipeline.from_config(fake_pipeline, cache=cache)(_audio())
    assert first.cache["vad"] == "uncacheable" and first.cache["asr"] == "miss"
    again = Pipeline.from_config(fake_pipeline, cache=cache)(_audio())
    # the VAD reran and produced the same regions: what depends on it is keyed on them, and reused
    assert again.cache == {"vad": "uncacheable", "diarization": "hit", "asr": "hit", "align": "hit"}


def test_a_model_file_change_recomputes_the_node(tmp_path: Path) -> None:
    model = tmp_path / "model.bin"
    model.write_bytes(b"abc")
    config = {"stages": {"vad": {"name": "model.vad", "model": str(model)}}, "graph": {"vad": {"kind": "vad"}}}
    with register_stage("vad", "model.vad", ModelVad):
        ModelVad.calls = 0
        run = Pipeline.from_config(config, cache=tmp_path / "cache")
        assert run(_audio()).cache == {"vad": "miss"}
        assert Pipeline.from_config(config, cache=tmp_path / "cache")(_audio()).cache == {"vad": "hit"}
        model.write_bytes(b"abcdef")
        changed = Pipeline.from_config(config, cache=tmp_path / "cache")(_audio())
        assert changed.cache == {"vad": "miss"} and ModelVad.calls == 2
        assert changed.speech is not None and changed.speech.regions[0].end == pytest.approx(1.006)


# Entries ----------------------------------------------------------------------------------------------------


def _entries(root: Path) -> list[Path]:
    return sorted((root / f"v{ENTRY_VERSION}").glob("*/*/*.json"))


@pytest.mark.parametrize("damage", ["truncate", "checksum", "other key", "schema", "not json", "wrong type"])
def test_a_damaged_entry_is_recomputed_never_trusted(fake_pipeline: Path, tmp_path: Path, damage: str) -> None:
    cache = StageCache(tmp_path / "cache")
    first = Pipeline.from_config(fake_pipeline, cache=cache)(_audio())
    vad_entry = next(p for p in _entries(cache.root) if p.parts[-3] == "fake.vad")
    entry = json.loads(vad_entry.read_text())
    if damage == "truncate":
        vad_entry.write_text(vad_entry.read_text()[:-40])
    elif damage == "not json":
        vad_entry.write_bytes(b"\xff\x00garbage")
    else:
        if damage == "checksum":
            entry["output"]["regions"][0][1] = 99.0
        elif damage == "other key":
            entry["key"] = "0" * 64
        elif damage == "schema":
            entry["schema_version"] = ENTRY_VERSION + 1
        elif damage == "wrong type":
            entry["type"] = "Transcript"
        vad_entry.write_text(json.dumps(entry))
    again = Pipeline.from_config(fake_pipeline, cache=cache)(_audio())
    assert again.cache["vad"] == "miss" and again.cache["asr"] == "hit"
    assert _content(again) == _content(first)
    assert json.loads(vad_entry.read_text())["checksum"] == entry["checksum"] or damage == "checksum"
    assert Pipeline.from_config(fake_pipeline, cache=cache)(_audio()).cache["vad"] == "hit"


def _hammer(root: str, worker: int, rounds: int) -> None:
    cache = StageCache(root)
    for index in range(rounds):
        regions = dummy_regions([(0.0, 1.0 + index % 3)], uri="shared")
        cache.put("fake.vad", "ab" + "0" * 62, regions)  # one key every worker writes
        cache.put("fake.vad", f"{worker:02d}{index:062d}", dummy_regions([(0.0, float(index + 1))], uri="own"))
        cache.get("fake.vad", "ab" + "0" * 62, SpeechRegions)


def test_concurrent_writers_do_not_corrupt_the_cache(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_hammer, args=(str(tmp_path), w, 40)) for w in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(120)
        assert process.exitcode == 0
    cache = StageCache(tmp_path)
    shared = cache.get("fake.vad", "ab" + "0" * 62, SpeechRegions)
    assert shared is not None and shared.uri == "shared"
    for worker in range(4):
        for index in range(40):
            own = cache.get("fake.vad", f"{worker:02d}{index:062d}", SpeechRegions)
            assert own is not None and own.regions[0].end == index + 1
    assert not [p for p in tmp_path.rglob("*.part")]


def test_an_unwritable_cache_never_fails_a_run(fake_pipeline: Path, tmp_path: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache directory should be")
    document = Pipeline.from_config(fake_pipeline, cache=blocker)(_audio())
    assert document.transcript is not None and set(document.cache.values()) == {"miss"}
    assert sum("not storing outputs" in r.message for r in caplog.records) == 1


def test_prune_removes_old_then_least_recently_used(tmp_path: Path) -> None:
    cache = StageCache(tmp_path)
    now = time.time()
    for index, age in enumerate([10 * 86400, 3 * 86400, 2 * 86400, 60]):
        key = f"{index:064d}"
        cache.put("fake.vad", key, dummy_regions([(0.0, 1.0)]))
        os.utime(cache.path("fake.vad", key), (now - age, now - age))
    cache.get("fake.vad", f"{1:064d}", SpeechRegions)  # read now: the most recently used
    size = max(path.stat().st_size for path in _entries(tmp_path))  # entries differ by a byte or two
    assert cache.prune(older_than=7 * 86400, now=now).removed == 1
    result = cache.prune(max_size=2 * size, now=now)
    assert (result.removed, result.kept) == (1, 2)
    assert {p.stem[-1] for p in _entries(tmp_path)} == {"1", "3"}
    assert cache.prune(max_size=0).kept == 0 and cache.info().total_entries == 0


def test_default_cache_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QASR_STAGE_CACHE", str(tmp_path / "here"))
    chosen = open_cache(True)
    assert chosen is not None and chosen.root == tmp_path / "here"
    monkeypatch.setenv("QASR_STAGE_CACHE", "off")
    assert open_cache(True) is None and open_cache(tmp_path) is not None and open_cache(False) is None
    monkeypatch.delenv("QASR_STAGE_CACHE")
    monkeypatch.setenv("QASR_CACHE", str(tmp_path / "root"))
    assert open_cache(True).root == tmp_path / "root" / "stages"  # type: ignore[union-attr]


# Command line -----------------------------------------------------------------------------------------------


def test_cli_cache_options_info_and_prune(fake_pipeline: Path, tmp_path: Path) -> None:
    wav = tmp_path / "clip.wav"
    import soundfile

    soundfile.write(wav, dummy_audio(4.0).waveform, 16_000)
    runner = CliRunner()
    cache = tmp_path / "cache"
    first = runner.invoke(app, ["run", str(fake_pipeline), str(wav), "-o", str(tmp_path / "a"), "--cache", str(cache),
                                "--no-progress"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, ["run", str(fake_pipeline), str(wav), "-o", str(tmp_path / "b"), "--cache",
                                 str(cache), "--no-progress"])
    assert second.exit_code == 0, second.output
    provenance = json.loads((tmp_path / "b" / "clip.json").read_text())["provenance"]
    assert {p["node"]: p["cache"] for p in provenance} == dict.fromkeys(["vad", "diarization", "asr", "align"], "hit")
    off = runner.invoke(app, ["run", str(fake_pipeline), str(wav), "-o", str(tmp_path / "c"), "--no-cache",
                              "--no-progress"])
    assert off.exit_code == 0
    assert "cache" not in json.loads((tmp_path / "c" / "clip.json").read_text())["provenance"][0]
    both = runner.invoke(app, ["run", str(fake_pipeline), str(wav), "-o", str(tmp_path / "d"), "--no-cache",
                               "--cache", str(cache)])
    assert both.exit_code == 2 and "C112" in both.output

    info = runner.invoke(app, ["cache", "info", "--dir", str(cache), "--json"])
    assert info.exit_code == 0
    listing = json.loads(info.output)
    assert listing["entries"] == 4 and set(listing["stages"]) == {"fake.vad", "fake.diarization", "fake.asr",
                                                                   "fake.align"}
    assert "fake.asr" in runner.invoke(app, ["cache", "info", "--dir", str(cache)]).output
    assert runner.invoke(app, ["cache", "prune", "--dir", str(cache), "--max-size", "lots"]).exit_code == 2
    pruned = runner.invoke(app, ["cache", "prune", "--dir", str(cache), "--older-than", "0s"])
    assert pruned.exit_code == 0 and "removed 4 entries" in pruned.output


def test_a_copy_with_other_settings_for_a_node_keys_them_apart(fake_pipeline: Path, tmp_path: Path) -> None:
    """A server request's variant shares the served executor's state but has its own settings for some nodes."""
    import copy
    from dataclasses import replace

    from qasr_plugins.settings import build_config

    pipeline = Pipeline.from_config(fake_pipeline, cache=tmp_path / "cache")
    base = pipeline.executor
    assert set(base.process([_audio()])[0].cache.values()) == {"miss"}  # type: ignore[union-attr]
    asr = base.spec.node("asr")
    config = build_config(asr.stage_class, {**asr.config.model_dump(), "words_per_second": 4.0}, asr.settings_path,
                          asr.stage_name)
    variant = copy.copy(base)
    variant.spec = replace(base.spec, nodes=tuple(replace(n, config=config) if n.name == "asr" else n
                                                  for n in base.spec.nodes))
    shared = copy.copy(base.stages["asr"])
    shared.config = config
    variant.stages = {**base.stages, "asr": shared}
    document = variant.process([_audio()])[0]
    assert document.cache == {"vad": "hit", "diarization": "hit", "asr": "miss", "align": "miss"}  # type: ignore[union-attr]
    assert base.process([_audio()])[0].cache["asr"] == "hit"  # type: ignore[union-attr]
