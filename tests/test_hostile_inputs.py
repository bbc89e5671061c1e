"""Inputs, manifests and output directories a hostile tester found: each is a coded error or a correct result, and
one bad input never stops the others."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from qasr_plugins import Pipeline
from qasr_plugins.document import ResultDocument
from qasr_plugins.errors import InputError, OutputError
from qasr_plugins.inputs import MAX_URI_BYTES, collect_inputs
from qasr_plugins.outdir import check_output_dir
from qasr_plugins.runner import SUMMARY_FILE, error_path

CONFIGS = Path(__file__).parent / "configs"


def _wav(path: Path, seconds: float = 2.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.random.default_rng(len(path.name)).standard_normal(int(16000 * seconds)).astype(np.float32)
             * 0.1, 16000)
    return path


def _outcomes(summary) -> dict[str, tuple[str, str | None]]:
    return {o.uri: (o.status, o.error and o.error["code"]) for o in summary.outcomes}


def test_special_files_given_as_inputs_are_coded_failures(fake_pipeline: Path, tmp_path: Path) -> None:
    good = _wav(tmp_path / "good.wav")
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    loop = tmp_path / "loop.wav"
    loop.symlink_to(loop)
    dangling = tmp_path / "gone.wav"
    dangling.symlink_to(tmp_path / "missing.wav")
    arguments = [str(fifo), "/dev/stdin", str(loop), str(dangling), str(good)]
    with pytest.raises(InputError) as info:
        collect_inputs(arguments)
    assert info.value.code == "I314" and "FIFO" in info.value.message
    summary = Pipeline.from_config(fake_pipeline).run(arguments, tmp_path / "out", progress=False)
    assert _outcomes(summary) == {"pipe": ("failed", "I314"), "stdin": ("failed", "I314"),
                                  "loop": ("failed", "I314"), "gone": ("failed", "I314"), "good": ("done", None)}
    assert summary.failed
    assert json.loads(error_path(tmp_path / "out", "loop").read_text())["error"]["code"] == "I314"


def test_a_special_file_in_a_directory_is_not_dropped_silently(tmp_path: Path) -> None:
    _wav(tmp_path / "corpus" / "a.wav")
    (tmp_path / "corpus" / "b.wav").symlink_to(tmp_path / "nowhere.wav")
    items = collect_inputs([str(tmp_path / "corpus")], keep_going=True)
    assert [(i.uri, i.error and i.error.code) for i in items] == [("a", None), ("b", "I314")]


def test_long_file_names_get_bounded_outputs_and_the_batch_goes_on(fake_pipeline: Path, tmp_path: Path) -> None:
    names = ["é" * 120 + ".wav", "a" * 246 + ".wav", "a" * 245 + ".wav", "short.wav"]  # 244-251 bytes
    paths = [_wav(tmp_path / "in" / name) for name in names]
    broken = tmp_path / "in" / ("b" * 246 + ".wav")
    broken.write_text("not audio")
    out = tmp_path / "out"
    summary = Pipeline.from_config(fake_pipeline, ["+run.batch_files=2"]).run([*paths, broken], out, progress=False)
    assert summary.line() == "4 done, 0 skipped, 1 failed"
    uris = [o.uri for o in summary.outcomes]
    assert len(set(uris)) == 5 and all(len(u.encode()) <= MAX_URI_BYTES for u in uris)
    assert uris[3] == "short" and "~" in uris[1] and uris[1] != uris[2]
    for outcome in summary.outcomes[:4]:
        assert ResultDocument.load(out / f"{outcome.uri}.json").uri == outcome.uri
    assert json.loads(error_path(out, uris[4]).read_text())["error"]["code"] == "I301"


def test_the_runs_own_files_never_collide_with_outputs(fake_pipeline: Path, tmp_path: Path) -> None:
    inputs = [_wav(tmp_path / "in" / name) for name in ("qasr-summary.wav", "x.error.wav", "summary.wav", "x.wav")]
    out = tmp_path / "out"
    summary = Pipeline.from_config(fake_pipeline).run(inputs, out, progress=False)
    assert summary.line() == "4 done, 0 skipped, 0 failed"
    for uri in ("qasr-summary", "x.error", "summary", "x"):
        assert ResultDocument.load(out / f"{uri}.json").uri == uri
    assert json.loads((out / SUMMARY_FILE).read_text())["summary"] == "4 done, 0 skipped, 0 failed"


def test_shared_stems_are_told_apart_by_suffix_then_folder(tmp_path: Path) -> None:
    for name in ("a/clip.wav", "a/clip.flac", "b/clip.wav", "a/clip.flac.wav"):
        _wav(tmp_path / name)
    items = collect_inputs([str(tmp_path / "a" / "clip.flac"), str(tmp_path / "a" / "clip.wav"),
                            str(tmp_path / "b" / "clip.wav"), str(tmp_path / "a" / "clip.flac.wav")])
    assert [i.uri for i in items] == ["a__clip.flac", "a__clip.wav", "b__clip.wav", "clip.flac"]
    pair = collect_inputs([str(tmp_path / "a" / "clip.flac"), str(tmp_path / "a" / "clip.wav")])
    assert [i.uri for i in pair] == ["clip.flac", "clip.wav"]
    twice = collect_inputs([str(tmp_path / "b" / "clip.wav")] * 2)
    assert [i.uri for i in twice] == ["clip", "clip-2"]


def test_output_names_do_not_collide_across_writer_suffixes(fake_plugins, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("QASR_CONFIG_PATH", str(CONFIGS))
    pipe = Pipeline.from_config(CONFIGS / "fake_full.yaml", formats=["json", "whisperx"])
    a, b = _wav(tmp_path / "talk.whisperx.wav"), _wav(tmp_path / "talk.wav")
    items = collect_inputs([str(a), str(b)], spec=pipe.spec)
    assert [i.uri for i in items] == ["talk.whisperx", "talk-2"]  # talk.whisperx.json is the first's


BAD_LINES = [
    b'{"no_audio": 1}',  # the first line lacks audio_filepath: still a manifest
    b'{"audio_filepath": "\xff\xfe.wav"}',
    b'{"audio_filepath": 3}',
    b'{"audio_filepath": null}',
    b'{"audio_filepath": ["a.wav"]}',
    b'{"audio_filepath": "good.wav", "offset": "abc"}',
    b'{"audio_filepath": "good.wav", "offset": 1e306}',
    b'{"audio_filepath": "good.wav", "duration": 1e306}',
    b'{"audio_filepath": "good.wav", "offset": Infinity}',
    b'{"audio_filepath": "good.wav", "duration": NaN}',
    b'{"audio_filepath": "good.wav", "duration": 1e999}',
    b'[' * 100_000,
    b'{"audio_filepath": ""}',
]


def test_each_bad_manifest_line_is_a_coded_failure_and_the_others_run(fake_pipeline: Path, tmp_path: Path) -> None:
    _wav(tmp_path / "good.wav", seconds=3)
    manifest = tmp_path / "m.jsonl"
    manifest.write_bytes(b"\n".join([*BAD_LINES, b'{"audio_filepath": "good.wav", "offset": 1, "duration": 1}']))
    items = collect_inputs([str(manifest)], keep_going=True)
    assert [i.error.where for i in items if i.error] == [f"{manifest}:{n}" for n in range(1, len(BAD_LINES) + 1)]
    assert {i.error.code for i in items if i.error} == {"I305"}
    summary = Pipeline.from_config(fake_pipeline).run([manifest], tmp_path / "out", progress=False)
    assert summary.line() == f"1 done, 0 skipped, {len(BAD_LINES)} failed"
    assert summary.outcomes[-1].uri == "good-000001000"
    assert ResultDocument.load(tmp_path / "out" / "good-000001000.json").audio.duration == pytest.approx(1.0)


def test_an_unexpected_exception_fails_only_its_file(fake_pipeline: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from qasr_plugins import runner

    real = runner.load_audio

    def flaky(path, **kwargs):
        if "bad" in str(path):
            raise OverflowError("cannot convert float infinity to integer")
        return real(path, **kwargs)

    monkeypatch.setattr(runner, "load_audio", flaky)
    paths = [_wav(tmp_path / f"{name}.wav") for name in ("one", "bad", "three")]
    summary = Pipeline.from_config(fake_pipeline, ["+run.batch_files=3"]).run(paths, tmp_path / "out", progress=False)
    assert _outcomes(summary) == {"one": ("done", None), "bad": ("failed", "S408"), "three": ("done", None)}
    assert "OverflowError" in summary.outcomes[1].error["message"]


def test_a_wav_header_declaring_too_little_audio_is_flagged(fake_pipeline: Path, tmp_path: Path) -> None:
    wav = _wav(tmp_path / "short_header.wav", seconds=10)
    data = bytearray(wav.read_bytes())
    chunk = data.find(b"data")
    data[chunk + 4:chunk + 8] = struct.pack("<I", 3)
    wav.write_bytes(bytes(data))
    logged: list[str] = []
    pipe = Pipeline.from_config(fake_pipeline)
    from qasr_plugins.inputs import collect_inputs as collect
    from qasr_plugins.runner import run_files

    summary = run_files(pipe.executor, collect([str(wav)]), tmp_path / "out", progress=False, log=logged.append)
    assert summary.line() == "1 done, 0 skipped, 0 failed"
    document = ResultDocument.load(tmp_path / "out" / "short_header.json")
    assert document.audio.warnings and document.audio.warnings[0].startswith("audio.length_mismatch")
    assert any(line.startswith("WARNING") and "length_mismatch" in line for line in logged)
    assert pipe(_wav(tmp_path / "fine.wav")).audio.warnings == ()


@pytest.mark.parametrize("target", ["file", "below", "/proc/qasr-out", "/sys/qasr-out", "/dev/null"])
def test_unusable_output_directories_are_refused(tmp_path: Path, target: str) -> None:
    (tmp_path / "file").write_text("x")
    path = {"file": tmp_path / "file", "below": tmp_path / "file" / "out"}.get(target, Path(target))
    with pytest.raises(OutputError) as info:
        check_output_dir(path)
    assert info.value.code == "O505"
    assert check_output_dir(tmp_path / "new" / "out") == tmp_path / "new" / "out"


def test_cli_refuses_a_bad_output_directory_before_loading(plugin_dirs, tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(plugin_dirs["good"]), QASR_CONFIG_PATH=str(CONFIGS))
    wav = _wav(tmp_path / "a.wav")
    done = subprocess.run([sys.executable, "-m", "qasr_plugins.cli", "run", str(CONFIGS / "fake_full.yaml"),
                           str(wav), "-o", "/dev/null", "--no-progress"], check=False, capture_output=True, text=True,
                          env=env)
    assert done.returncode == 2 and "[O505]" in done.stderr and "Traceback" not in done.stderr
    fifo = tmp_path / "fifo.wav"
    os.mkfifo(fifo)
    mixed = subprocess.run([sys.executable, "-m", "qasr_plugins.cli", "run", str(CONFIGS / "fake_full.yaml"),
                            str(fifo), str(wav), "-o", str(tmp_path / "out"), "--no-progress"], check=False,
                           capture_output=True, text=True, env=env)
    assert mixed.returncode == 1 and "[I314]" in mixed.stderr and "1 done, 0 skipped, 1 failed" in mixed.stdout
