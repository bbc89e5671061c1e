"""The packaged ``offline`` pipeline end to end: CLI run on the sample, scores, synthetic conversations."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from qasr_plugins import Pipeline
from qasr_plugins.evaluation.readers import read_all
from qasr_plugins.evaluation.report import EvalOptions, evaluate
from qasr_plugins.testing.synth import CONVERSATIONS, synthesize


@pytest.fixture(scope="module")
def cli_output(sample_wav: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("offline")
    done = subprocess.run([sys.executable, "-m", "qasr_plugins.cli", "run", "offline", str(sample_wav), "-o", str(out),
                           "--no-progress"], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "1 done, 0 skipped, 0 failed" in done.stdout
    return out


def test_cli_writes_the_formats(cli_output: Path) -> None:
    for suffix in ("json", "srt", "vtt", "rttm", "ctm", "txt", "whisperx.json"):
        assert (cli_output / f"sample.{suffix}").is_file(), suffix
    srt = (cli_output / "sample.srt").read_text(encoding="utf-8")
    assert "-->" in srt and "SPEAKER_00: " in srt and "SPEAKER_01: " in srt
    document = json.loads((cli_output / "sample.json").read_text(encoding="utf-8"))
    assert [p["node"] for p in document["provenance"]] == ["vad", "diar", "asr", "words"]
    words = [w for s in document["transcript"]["segments"] for w in s["words"]]
    assert words and all(w["speaker"] in ("SPEAKER_00", "SPEAKER_01") for w in words)


def test_scores_on_the_sample(cli_output: Path, sample_rttm: Path, sample_stm: Path) -> None:
    report = evaluate(read_all([sample_rttm, sample_stm]), read_all([cli_output / "sample.json"]),
                      EvalOptions(collar=0.25))
    row = report.files[0]
    # Measured: DER 8.7 %, WER 16.0 %, WDER 6.8 %; bounds about 1.5x (DER, WER) and 1.8x (WDER).
    assert row["der"]["value"] <= 0.13
    assert row["wer"]["value"] <= 0.24
    assert row["wder"]["value"] <= 0.12


@pytest.fixture(scope="module")
def offline() -> Pipeline:
    return Pipeline.from_config("offline", formats=["json"])


@pytest.mark.parametrize("name,measured_der,measured_wer", [("two_speakers", 0.039, 0.227),
                                                           ("three_speakers", 0.021, 0.056)])
def test_scores_on_clean_synthetic_conversations(name, measured_der, measured_wer, offline, synth_dir) -> None:
    rendered = synthesize(CONVERSATIONS[name], synth_dir)
    document = offline(rendered.wav)
    assert len(document.diarization.turns.speakers) == len(rendered.speakers)
    result = synth_dir / f"{name}.json"
    result.write_text(str(offline.render(document)["json"]), encoding="utf-8")
    report = evaluate(read_all([rendered.rttm, rendered.stm]), read_all([result]), EvalOptions(collar=0.25))
    row = report.files[0]
    assert row["der"]["value"] <= 2 * measured_der, f"measured {measured_der}"
    assert row["wer"]["value"] <= 2 * measured_wer, f"measured {measured_wer}"
