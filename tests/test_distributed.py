"""Scale-out on Ray: a local Ray with two actors runs the same batches, keeps failures per file, skips done work."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from qasr_plugins.document import ResultDocument
from qasr_plugins.graph import load_pipeline
from qasr_plugins.inputs import collect_inputs

ray = pytest.importorskip("ray", reason="the 'ray' extra is not installed")


@pytest.fixture()
def local_ray(plugin_dirs, monkeypatch: pytest.MonkeyPatch):
    # Workers are separate processes: they find the test-only plugins through PYTHONPATH.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(plugin_dirs["good"]), os.environ.get("PYTHONPATH", "")]))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def test_ray_run_matches_local_semantics(fake_pipeline: Path, local_ray, tmp_path: Path) -> None:
    from qasr_plugins.distributed import run_on_ray

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, name in enumerate(["a", "b", "bad_c", "d", "e"]):
        sf.write(corpus / f"{name}.wav", np.random.default_rng(i).standard_normal(16000 * 3).astype(np.float32) * 0.1,
                 16000)
    spec = load_pipeline(fake_pipeline, ["stages.asr.fail_on=bad_", "+run.batch_files=2"])
    items = collect_inputs([str(corpus)])
    out = tmp_path / "out"
    summary = run_on_ray(spec, items, out, workers=2, progress=False)
    assert summary.line() == "4 done, 0 skipped, 1 failed"
    assert [o.uri for o in summary.outcomes] == ["a", "b", "bad_c", "d", "e"]  # input order, whatever finished first
    assert json.loads((out / ".qasr" / "errors" / "bad_c.json").read_text())["error"]["code"] == "S401"
    assert ResultDocument.load(out / "e.json").transcript is not None
    again = run_on_ray(spec, items, out, workers=2, progress=False)
    assert again.line() == "0 done, 4 skipped, 1 failed"


def test_a_workers_pipeline_keeps_environment_values_redacted(fake_pipeline: Path, fake_plugins, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A Ray actor rebuilds the pipeline from the driver's config: values the driver read from the environment
    (allow_env) stay out of the actor's provenance too."""
    from qasr_plugins.distributed import PipelineWorker

    monkeypatch.setenv("QASR_TEST_SECRET", "tok-123-secret")
    spec = load_pipeline(fake_pipeline, ["stages.asr.fail_on=${oc.env:QASR_TEST_SECRET}"], allow_env=True)
    assert spec.env_paths
    audio = tmp_path / "a.wav"
    sf.write(audio, np.random.default_rng(0).standard_normal(16000 * 3).astype(np.float32) * 0.1, 16000)
    worker = PipelineWorker(dict(spec.config), spec.source, spec.env_paths)
    [outcome] = worker.process(collect_inputs([str(audio)]), str(tmp_path / "out"))
    assert outcome.status == "done"
    written = (tmp_path / "out" / "a.json").read_text()
    assert "tok-123-secret" not in written and "tok-123-secret" not in worker.executor.spec.describe()
