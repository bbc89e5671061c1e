"""Reruns trust only verified outputs: completion records, pipeline digests, umask, full disks, stale temp files, the
run lock."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from qasr_plugins import Pipeline
from qasr_plugins.atomic import write_atomic
from qasr_plugins.completion import record_path
from qasr_plugins.document import ResultDocument
from qasr_plugins.errors import OutputError
from qasr_plugins.rundir import claim
from qasr_plugins.runner import SUMMARY_FILE
from qasr_plugins.testing import dummy_audio


def _corpus(root: Path, names: str = "abcde") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        sf.write(root / f"{name}.wav", dummy_audio(3.0, [(0.5, 2.5)], seed=i).waveform, 16000)
    return root


def test_truncated_empty_or_non_json_outputs_are_redone(fake_pipeline: Path, tmp_path: Path) -> None:
    corpus, out = _corpus(tmp_path / "corpus", "abcd"), tmp_path / "out"
    pipe = Pipeline.from_config(fake_pipeline)
    assert pipe.run([corpus], out, progress=False).line() == "4 done, 0 skipped, 0 failed"
    text = (out / "a.json").read_text()
    (out / "a.json").write_text(text[: len(text) // 2])  # truncated
    (out / "b.json").write_text("")  # empty
    (out / "c.json").write_text("x" * len(text))  # same size, not JSON
    again = pipe.run([corpus], out, progress=False)
    assert again.line() == "3 done, 1 skipped, 0 failed; redone: 3 corrupt output"
    assert {o.uri: o.redone for o in again.outcomes} == {"a": "corrupt output", "b": "corrupt output",
                                                          "c": "corrupt output", "d": ""}
    for uri in "abcd":
        assert ResultDocument.load(out / f"{uri}.json").transcript is not None
    files = json.loads((out / SUMMARY_FILE).read_text())["files"]
    assert [f["redone"] for f in files] == ["corrupt output"] * 3 + [None]
    record_path(out, "d").write_text("{not json")  # a damaged record is not trusted either
    assert pipe.run([corpus], out, progress=False).line() == "1 done, 3 skipped, 0 failed; redone: 1 corrupt output"


def test_outputs_without_a_record_or_from_another_pipeline_are_redone(fake_pipeline: Path, tmp_path: Path) -> None:
    corpus, out = _corpus(tmp_path / "corpus", "ab"), tmp_path / "out"
    Pipeline.from_config(fake_pipeline).run([corpus], out, progress=False)
    record_path(out, "a").unlink()  # as if killed between the last output and its record
    changed = Pipeline.from_config(fake_pipeline, ["stages.asr.words_per_second=3"])
    summary = changed.run([corpus], out, progress=False)
    assert summary.line() == "2 done, 0 skipped, 0 failed; redone: 1 incomplete outputs, 1 pipeline changed"
    assert "redone: 1 incomplete outputs, 1 pipeline changed" in json.loads((out / SUMMARY_FILE).read_text())["summary"]
    assert changed.run([corpus], out, progress=False).line() == "0 done, 2 skipped, 0 failed"
    rewired = Pipeline.from_config(fake_pipeline, ["stages.vad.window=1.0"])  # settings of another node
    assert rewired.run([corpus], out, progress=False).line() == "2 done, 0 skipped, 0 failed; redone: 2 pipeline changed"
    more = Pipeline.from_config(fake_pipeline, ["stages.vad.window=1.0"], ["json", "srt"])  # another writer
    assert more.run([corpus], out, progress=False).line() == "2 done, 0 skipped, 0 failed; redone: 2 pipeline changed"
    assert more.run([corpus], out, overwrite=True, progress=False).line() == "2 done, 0 skipped, 0 failed"


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_outputs_follow_the_umask(fake_pipeline: Path, tmp_path: Path, umask: int) -> None:
    previous = os.umask(umask)
    try:
        path = write_atomic(tmp_path / "one.txt", "x")
        Pipeline.from_config(fake_pipeline).run([_corpus(tmp_path / "corpus", "a")], tmp_path / "out", progress=False)
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert (tmp_path / "out" / "a.json").stat().st_mode & 0o777 == 0o666 & ~umask


def _fill_disk_at(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """From the first write of ``name`` on, every atomic write fails with ENOSPC (the disk is full)."""
    from qasr_plugins import atomic

    real = os.replace
    full: list[bool] = []

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if full or Path(dst).name == name:
            full.append(True)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", replace)


def test_a_full_disk_fails_the_input_whose_output_failed(fake_pipeline: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    corpus, out = _corpus(tmp_path / "corpus"), tmp_path / "out"
    pipe = Pipeline.from_config(fake_pipeline, ["+run.batch_files=1"])
    _fill_disk_at(monkeypatch, "c.json")
    logged: list[str] = []
    from qasr_plugins.inputs import collect_inputs
    from qasr_plugins.runner import run_files

    summary = run_files(pipe.executor, collect_inputs([str(corpus)]), out, progress=False, log=logged.append)
    assert summary.line() == "2 done, 0 skipped, 3 failed" and summary.failed
    failed = [o for o in summary.outcomes if o.status == "failed"]
    assert [o.uri for o in failed] == ["c", "d", "e"]
    for outcome in failed:
        assert outcome.error and outcome.error["code"] == "O501"
        assert outcome.error["where"] == outcome.source  # the input, not the summary file
        assert f"{outcome.uri}.json" in outcome.error["message"] and "No space left" in outcome.error["message"]
    assert any(line.startswith(f"FAILED {corpus / 'c.wav'}: [O501]") for line in logged)
    assert [e["code"] for e in summary.errors] == ["O501"] and SUMMARY_FILE in summary.errors[0]["where"]
    monkeypatch.undo()
    again = pipe.run([corpus], out, progress=False)  # the two finished inputs stay done
    assert again.line() == "3 done, 2 skipped, 0 failed"


def test_cli_exit_status_on_a_full_disk_is_1(fake_pipeline: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from qasr_plugins.cli import app

    corpus, out = _corpus(tmp_path / "corpus"), tmp_path / "out"
    _fill_disk_at(monkeypatch, "d.json")
    result = CliRunner().invoke(app, ["run", str(fake_pipeline), str(corpus), "-o", str(out), "--no-progress",
                                      "+run.batch_files=1"])
    assert result.exit_code == 1, result.output
    assert f"FAILED {corpus / 'd.wav'}: [O501]" in result.output and "3 done, 0 skipped, 2 failed" in result.output


def test_orphaned_temp_files_are_removed_and_nothing_else(fake_pipeline: Path, tmp_path: Path) -> None:
    corpus, out = _corpus(tmp_path / "corpus", "a"), tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    orphans = [out / ".a.json.qasr-0123abcd.part", out / "sub" / ".b.srt.qasr-ffffffff.part"]
    others = [out / ".a.json.part", out / "notes.part", out / ".a.json.qasr-xyz.part", out / "keep.txt"]
    for path in orphans + others:
        path.write_text("left behind")
    logged: list[str] = []
    from qasr_plugins.inputs import collect_inputs
    from qasr_plugins.runner import run_files

    run_files(Pipeline.from_config(fake_pipeline).executor, collect_inputs([str(corpus)]), out, progress=False,
              log=logged.append)
    assert not any(p.exists() for p in orphans) and all(p.exists() for p in others)
    assert any("removed 2 temporary file(s)" in line for line in logged)


def test_a_second_run_on_a_held_directory_is_refused(fake_pipeline: Path, tmp_path: Path) -> None:
    corpus, out = _corpus(tmp_path / "corpus", "a"), tmp_path / "out"
    pipe = Pipeline.from_config(fake_pipeline)
    with claim(out):
        with pytest.raises(OutputError) as info:
            pipe.run([corpus], out, progress=False)
        assert info.value.code == "O504" and f"pid {os.getpid()}" in info.value.message
        assert not (out / "a.json").exists()
    assert pipe.run([corpus], out, progress=False).line() == "1 done, 0 skipped, 0 failed"


def test_a_killed_runs_lock_does_not_block(fake_pipeline: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    script = ("import time; from pathlib import Path; from qasr_plugins.rundir import claim\n"
              f"with claim(Path({str(out)!r})):\n    print('held', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout and holder.stdout.readline().strip() == "held"
        with pytest.raises(OutputError) as info, claim(out):
            pass
        assert info.value.code == "O504" and f"pid {holder.pid}" in info.value.message
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    with claim(out):
        pass
