"""Runs stopped by signals and runs side by side, in subprocesses: nothing finished is lost, nothing corrupt trusted."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import soundfile as sf

from qasr_plugins.completion import COMPLETE, status
from qasr_plugins.document import ResultDocument
from qasr_plugins.graph import load_pipeline
from qasr_plugins.runner import SUMMARY_FILE, output_paths
from qasr_plugins.testing import dummy_audio

CONFIGS = Path(__file__).parent / "configs"
PIPELINE = CONFIGS / "fake_full.yaml"


@pytest.fixture()
def env(plugin_dirs) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(plugin_dirs["good"]), QASR_CONFIG_PATH=str(CONFIGS))


def _corpus(root: Path, count: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        sf.write(root / f"f{i:02d}.wav", dummy_audio(2.0, [(0.2, 1.8)], seed=i).waveform, 16000)
    return root


def _start(env: dict[str, str], corpus: Path, out: Path, *overrides: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "qasr_plugins.cli", "run", str(PIPELINE), str(corpus), "-o",
                             str(out), "--no-progress", "+run.batch_files=1", *overrides],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _wait_for(path: Path, process: subprocess.Popen[str], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def _temp_files(out: Path) -> list[Path]:
    return list(out.rglob("*.part"))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_writes_an_interrupted_summary_and_exits_128_plus_it(env: dict[str, str], fake_plugins,
                                                                      tmp_path: Path, sig: signal.Signals) -> None:
    corpus, out = _corpus(tmp_path / "corpus", 8), tmp_path / "out"
    run = _start(env, corpus, out, "stages.asr.delay=0.3")
    _wait_for(out / "f01.json", run)
    run.send_signal(sig)
    stdout, stderr = run.communicate(timeout=60)
    assert run.returncode == 128 + sig.value, (stdout, stderr)
    assert f"interrupted by {sig.name}" in stderr and "not started" in stderr
    summary = json.loads((out / SUMMARY_FILE).read_text())
    assert summary["interrupted"] == sig.name and f"interrupted by {sig.name}" in summary["summary"]
    finished = [f["uri"] for f in summary["files"] if f["status"] == "done"]
    assert finished and summary["not_started"] == 8 - len(summary["files"]) > 0
    assert not _temp_files(out)
    again = _start(env, corpus, out, "stages.asr.delay=0.3")  # the same settings: finished inputs are kept
    stdout, stderr = again.communicate(timeout=60)
    assert again.returncode == 0, (stdout, stderr)
    statuses = {f["uri"]: f["status"] for f in json.loads((out / SUMMARY_FILE).read_text())["files"]}
    assert [uri for uri, state in statuses.items() if state == "skipped"] == finished and len(statuses) == 8


def test_a_concurrent_run_on_the_same_directory_is_refused(env: dict[str, str], tmp_path: Path) -> None:
    corpus, out = _corpus(tmp_path / "corpus", 6), tmp_path / "out"
    first = _start(env, corpus, out, "stages.asr.delay=1.0")  # long enough for a second process to start
    _wait_for(out / "f00.json", first)
    second = subprocess.run([sys.executable, "-m", "qasr_plugins.cli", "run", str(PIPELINE), str(corpus), "-o",
                             str(out), "--no-progress"], capture_output=True, text=True, env=env, check=False)
    assert second.returncode == 2 and "[O504]" in second.stderr and f"pid {first.pid}" in second.stderr
    stdout, stderr = first.communicate(timeout=120)
    assert first.returncode == 0 and "6 done, 0 skipped, 0 failed" in stdout, stderr
    summary = json.loads((out / SUMMARY_FILE).read_text())
    assert [f["status"] for f in summary["files"]] == ["done"] * 6


def test_fault_loop_random_kills_then_reruns_end_complete(env: dict[str, str], fake_plugins,
                                                           tmp_path: Path) -> None:
    """Kill runs at random moments with SIGKILL, SIGTERM or SIGINT, rerun, and check that at the end every input
    has complete, valid outputs and no temporary file is left; after every kill, whatever a rerun would trust is
    valid."""
    corpus, out = _corpus(tmp_path / "corpus", 24), tmp_path / "out"
    spec = load_pipeline(PIPELINE, [])
    uris = [f"f{i:02d}" for i in range(24)]
    rng = random.Random(int(os.environ.get("QASR_FAULT_SEED", "20240601")))
    deadline = time.monotonic() + 90
    kills = 0
    for _ in range(12):
        if time.monotonic() > deadline:
            break
        run = _start(env, corpus, out, "stages.asr.delay=0.01")
        time.sleep(rng.uniform(0.0, 2.5))
        sig = rng.choice([signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
        if run.poll() is None:
            run.send_signal(sig)
            kills += 1
        _, stderr = run.communicate(timeout=60)
        # 128 + n when the run had started; -n (SIGKILL, or SIGTERM before the run began) or, for SIGINT during
        # start-up, Python's KeyboardInterrupt (1) otherwise
        allowed = {0, -sig.value, 128 + sig.value} | ({1} if sig == signal.SIGINT else set())
        assert run.returncode in allowed, (sig, run.returncode, stderr)
        for uri in uris:  # what a rerun would skip must be a valid document
            if status(spec, out, uri, output_paths(spec, out, uri)) == COMPLETE:
                assert ResultDocument.load(out / f"{uri}.json").uri == uri
    assert kills, "no run was killed: the loop tested nothing"
    final = subprocess.run([sys.executable, "-m", "qasr_plugins.cli", "run", str(PIPELINE), str(corpus), "-o",
                            str(out), "--no-progress"], capture_output=True, text=True, env=env, check=False)
    assert final.returncode == 0, final.stderr
    assert not _temp_files(out)
    for uri in uris:
        assert status(spec, out, uri, output_paths(spec, out, uri)) == COMPLETE
        assert ResultDocument.load(out / f"{uri}.json").transcript is not None
    summary = json.loads((out / SUMMARY_FILE).read_text())
    assert summary["interrupted"] is None and {f["status"] for f in summary["files"]} <= {"done", "skipped"}
