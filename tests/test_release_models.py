"""``run.release_models``: each stage's models are dropped after its node and loaded again when next needed."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf

from qasr_plugins import Pipeline
from qasr_plugins.errors import ConfigErrors
from qasr_plugins.testing import dummy_audio, fakes
from qasr_plugins.testing.fakes import FakeAsr


def _wavs(root: Path, count: int) -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = root / f"f{index}.wav"
        sf.write(path, dummy_audio(4.0, [(0.5, 3.5)], seed=index).waveform, 16000)
        paths.append(path)
    return paths


def test_each_stage_is_loaded_only_while_its_node_runs(fake_pipeline: Path) -> None:
    pipe = Pipeline.from_config(fake_pipeline, ["+run.release_models=true"])
    executor = pipe.executor
    loaded_while_running: dict[str, list[str]] = {}

    def on_stage(name: str) -> None:  # called before each node: only what that node needs may be loaded
        loaded_while_running[name] = [node for node, stage in executor.stages.items() if stage._loaded]

    pipe.load()
    assert not any(stage._loaded for stage in executor.stages.values())  # nothing loads ahead
    documents = executor.process([dummy_audio(4.0, [(0.5, 3.5)])], on_stage=on_stage)
    assert documents[0].transcript is not None and documents[0].diarization is not None
    assert all(loaded == [] for loaded in loaded_while_running.values())
    assert not any(stage._loaded for stage in executor.stages.values())


def test_models_load_again_for_every_batch_and_outputs_are_unchanged(fake_pipeline: Path, tmp_path: Path) -> None:
    paths = _wavs(tmp_path / "in", 5)
    fakes.LOADS.clear()
    released = Pipeline.from_config(fake_pipeline, ["+run.release_models=true", "+run.batch_files=2"])
    summary = released.run(paths, tmp_path / "released", progress=False)
    assert summary.line() == "5 done, 0 skipped, 0 failed"
    assert fakes.LOADS == {"FakeVad": 3, "FakeDiarization": 3, "FakeAsr": 3}  # three batches of at most 2 files
    Pipeline.from_config(fake_pipeline, ["+run.batch_files=2"]).run(paths, tmp_path / "resident", progress=False)
    for path in paths:
        released_doc = (tmp_path / "released" / f"{path.stem}.json").read_text()
        resident_doc = (tmp_path / "resident" / f"{path.stem}.json").read_text()
        assert _without_timings(released_doc) == _without_timings(resident_doc)


def _without_timings(document: str) -> object:
    """A result document's content without its provenance (times, cache states), but with the nodes that ran."""
    import json

    data = json.loads(document)
    data["provenance"] = [record["node"] for record in data["provenance"]]
    return data


def test_release_forgets_what_loading_set_and_keeps_the_rest() -> None:
    class Counting(FakeAsr):
        def __init__(self) -> None:
            super().__init__()
            self.kept = "set before loading"

        def load(self) -> None:
            self.model = object()
            self.kept = "changed by loading"

    stage = Counting()
    stage.ensure_loaded()
    assert stage._loaded and stage.kept == "changed by loading"
    stage.release()
    assert not stage._loaded and not hasattr(stage, "model") and stage.kept == "set before loading"
    stage.ensure_loaded()
    assert stage._loaded and hasattr(stage, "model")


def test_a_stage_given_its_model_is_not_released() -> None:
    stage = FakeAsr()
    stage.model = object()
    stage._loaded = True  # as a stage's attach() marks a model handed to it
    stage.release()
    assert stage._loaded and hasattr(stage, "model")


def test_release_models_must_be_a_boolean(fake_pipeline: Path) -> None:
    with pytest.raises(ConfigErrors) as caught:
        Pipeline.from_config(fake_pipeline, ["+run.release_models=sometimes"])
    assert [(e.code, e.where) for e in caught.value.errors] == [("C103", "run.release_models")]
