"""The runner: batches, failures recorded while the batch goes on, atomic outputs, reruns, manifests, the API."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from qasr_plugins import Pipeline
from qasr_plugins.atomic import write_atomic
from qasr_plugins.document import ResultDocument
from qasr_plugins.errors import OutputError
from qasr_plugins.inputs import collect_inputs
from qasr_plugins.testing import dummy_audio, fakes


def _wav(path: Path, seconds: float = 5.0, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, dummy_audio(seconds, [(0.5, seconds - 0.5)], seed=seed).waveform, 16000)
    return path


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    for i, name in enumerate(["a", "b", "bad_c", "d"]):
        _wav(root / f"{name}.wav", seconds=4 + i, seed=i)
    (root / "e.wav").write_text("not audio at all")
    return root


def test_batch_goes_on_after_failures_and_records_them(fake_pipeline: Path, corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    pipe = Pipeline.from_config(fake_pipeline, ["stages.asr.fail_on=bad_"])
    summary = pipe.run([corpus], out, progress=False)
    assert summary.line() == "3 done, 0 skipped, 2 failed"
    status = {o.uri: (o.status, o.error and o.error["code"]) for o in summary.outcomes}
    assert status == {"a": ("done", None), "b": ("done", None), "bad_c": ("failed", "S401"), "d": ("done", None),
                      "e": ("failed", "I301")}
    for uri in "abd":
        doc = ResultDocument.load(out / f"{uri}.json")
        assert doc.transcript and doc.speech and doc.diarization
    bad = json.loads((out / ".qasr" / "errors" / "bad_c.json").read_text())
    assert bad["error"]["code"] == "S401" and "fake failure" in bad["error"]["message"]
    assert "asr" in bad["error"]["message"]
    assert json.loads((out / ".qasr" / "errors" / "e.json").read_text())["error"]["code"] == "I301"
    summary_file = json.loads((out / ".qasr" / "summary.json").read_text())
    assert summary_file["summary"] == "3 done, 0 skipped, 2 failed"
    assert not list(out.rglob("*.part")) and [p.name for p in out.glob(".*")] == [".qasr"]  # the run's state only


def test_models_load_once_and_reruns_skip_finished_work(fake_pipeline: Path, corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    fakes.LOADS.clear()
    pipe = Pipeline.from_config(fake_pipeline)
    pipe.run([corpus / "a.wav", corpus / "b.wav", corpus / "d.wav"], out, progress=False)
    assert fakes.LOADS == {"FakeVad": 1, "FakeDiarization": 1, "FakeAsr": 1}
    before = (out / "a.json").stat().st_mtime_ns
    again = pipe.run([corpus / "a.wav", corpus / "b.wav"], out, progress=False)
    assert again.line() == "0 done, 2 skipped, 0 failed"
    (out / "b.json").unlink()
    partial = pipe.run([corpus / "a.wav", corpus / "b.wav"], out, progress=False)
    assert partial.line() == "1 done, 1 skipped, 0 failed; redone: 1 missing output"
    forced = pipe.run([corpus / "a.wav"], out, overwrite=True, progress=False)
    assert forced.line() == "1 done, 0 skipped, 0 failed" and (out / "a.json").stat().st_mtime_ns > before
    assert fakes.LOADS["FakeAsr"] == 1


def test_provenance_and_offsets_from_a_manifest(fake_pipeline: Path, tmp_path: Path) -> None:
    audio = _wav(tmp_path / "long.wav", seconds=20)
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text(json.dumps({"audio_filepath": "long.wav", "offset": 10.0, "duration": 6.0}) + "\n"
                        + json.dumps({"audio_filepath": str(audio)}) + "\n")
    items = collect_inputs([str(manifest)])
    assert [(i.uri, i.offset, i.duration) for i in items] == [("long-000010000", 10.0, 6.0), ("long", 0.0, None)]
    out = tmp_path / "out"
    Pipeline.from_config(fake_pipeline).run([manifest], out, progress=False)
    doc = ResultDocument.load(out / "long-000010000.json")
    assert doc.audio.offset == 10.0 and doc.audio.duration == pytest.approx(6.0)
    assert doc.speech.regions[0].start == pytest.approx(10.0)
    assert all(10.0 <= w.span.start and w.span.end <= 16.0 + 1e-6 for w in doc.transcript.words())
    record = {r.node: r for r in doc.provenance}
    assert set(record) == {"vad", "diarization", "asr", "align"}
    assert record["asr"].name == "fake.asr" and record["asr"].distribution == "qasr-test-good"
    assert record["asr"].config_hash and record["asr"].wall_time >= 0 and record["asr"].settings["language"] == "en"


def test_bad_manifest_line_is_a_coded_error(tmp_path: Path) -> None:
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"audio_filepath": "x.wav"}\n{"oops": 1}\n')
    from qasr_plugins.errors import InputError

    with pytest.raises(InputError) as info:
        collect_inputs([str(manifest)])
    assert info.value.code == "I305" and info.value.where.endswith("m.jsonl:2")


def test_globs_and_uri_collisions(tmp_path: Path) -> None:
    _wav(tmp_path / "x" / "talk.wav")
    _wav(tmp_path / "y" / "talk.wav")
    items = collect_inputs([str(tmp_path / "*" / "*.wav")])
    assert len({i.uri for i in items}) == 2 and {i.uri for i in items} == {"x__talk", "y__talk"}
    from qasr_plugins.errors import InputError

    with pytest.raises(InputError) as info:
        collect_inputs([str(tmp_path / "nothing*.wav")])
    assert info.value.code == "I304"


def test_atomic_write_leaves_nothing_half_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "doc.json"
    write_atomic(target, "old")

    def crash(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OutputError) as info:
        write_atomic(target, "new content")
    assert info.value.code == "O501" and "doc.json" in info.value.render()
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["doc.json"]


def test_stage_failure_in_a_batch_costs_only_that_file(fake_pipeline: Path, tmp_path: Path) -> None:
    paths = [_wav(tmp_path / f"{n}.wav", seed=i) for i, n in enumerate(["one", "bad_two", "three"])]
    pipe = Pipeline.from_config(fake_pipeline, ["stages.asr.fail_on=bad_", "+run.batch_files=3"])
    results = pipe.executor.process([__import__("qasr_plugins.audio").audio.load_audio(p) for p in paths])
    kinds = [type(r).__name__ for r in results]
    assert kinds == ["ResultDocument", "StageError", "ResultDocument"]


def test_python_api_accepts_arrays_and_renders(fake_pipeline: Path) -> None:
    pipe = Pipeline.from_config(fake_pipeline)
    doc = pipe((np.zeros(16000 * 3, dtype=np.float32), 16000), uri="mem")
    assert doc.uri == "mem" and doc.transcript is not None
    assert json.loads(pipe.render(doc)["json"])["uri"] == "mem"
    assert "fake.asr" in pipe._repr_html_() and "fake.asr" in repr(pipe)


def test_cli_run_exit_codes_and_outputs(plugin_dirs, corpus: Path, tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(plugin_dirs["good"]),
               QASR_CONFIG_PATH=str(Path(__file__).parent / "configs"))
    pipeline = str(Path(__file__).parent / "configs" / "fake_full.yaml")
    out = tmp_path / "cli"
    ok = subprocess.run([sys.executable, "-m", "qasr_plugins.cli", "run", pipeline, str(corpus / "a.wav"), "-o",
                         str(out), "--no-progress", "stages.vad.window=1.5"], check=False, capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stderr
    assert "1 done, 0 skipped, 0 failed" in ok.stdout
    doc = ResultDocument.load(out / "a.json")
    assert doc.speech.regions[0].duration == pytest.approx(1.5)
    failed = subprocess.run([sys.executable, "-m", "qasr_plugins.cli", "run", pipeline, str(corpus), "-o", str(out),
                             "--no-progress"], check=False, capture_output=True, text=True, env=env)
    assert failed.returncode == 1 and "FAILED" in failed.stderr and "[I301]" in failed.stderr
    invalid = subprocess.run([sys.executable, "-m", "qasr_plugins.cli", "run", pipeline, str(corpus), "-o", str(out),
                              "stages.vad.window=-1"], check=False, capture_output=True, text=True, env=env)
    assert invalid.returncode == 2 and "[C103]" in invalid.stderr and "stages.vad.window" in invalid.stderr


def test_cli_validate_prints_graph_or_errors(plugin_dirs) -> None:
    ok = subprocess.run([sys.executable, "-m", "qasr_plugins.cli", "validate", "vad", "stages/vad=energy"],
                        check=False, capture_output=True, text=True)
    assert ok.returncode == 0 and "vad: vad energy.vad" in ok.stdout and "stages.vad.threshold_db = -35.0" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "qasr_plugins.cli", "validate", "vad", "stages.vad.name=silero"],
                         check=False, capture_output=True, text=True)
    assert bad.returncode == 2 and "[C101]" in bad.stderr and "silero.vad" in bad.stderr


@pytest.mark.skipif(shutil.which("qasr") is None and not Path(sys.executable).with_name("qasr").exists(),
                    reason="the qasr console script is not installed")
def test_console_script_is_installed() -> None:
    script = shutil.which("qasr") or str(Path(sys.executable).with_name("qasr"))
    assert subprocess.run([script, "--help"], check=False, capture_output=True, text=True).returncode == 0
