"""One ``qasr run`` of a test pipeline (energy VAD + fake diarization/ASR/aligner + max_overlap attribution) writes
every format, and independent parsers accept each file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qasr_plugins.cli import app

PIPELINE = """\
description: Test pipeline writing every format.
defaults:
  - /stages/attribution: max_overlap
  - _self_
stages:
  vad: {name: energy.vad}
  diarization: {name: fake.diarization, speakers: 2}
  asr: {name: fake.asr}
  align: {name: fake.align}
graph:
  vad: {kind: vad}
  diarization: {kind: diarization, inputs: {speech: vad}}
  asr: {kind: asr, inputs: {speech: vad}}
  align: {kind: align, inputs: {transcript: asr}}
  attribution: {kind: attribution, inputs: {transcript: align, diarization: diarization}}
outputs:
  formats: [json]
"""
FORMATS = "json,srt,vtt,rttm,ctm,textgrid,txt,tsv,manifest,whisperx"


@pytest.fixture()
def run_dir(fake_plugins, sample_wav: Path, tmp_path: Path) -> Path:
    pipeline = tmp_path / "every_format.yaml"
    pipeline.write_text(PIPELINE, encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(pipeline), str(sample_wav), "-o", str(out), "--format", FORMATS,
                                      "--no-progress"])
    assert result.exit_code == 0, result.output
    return out


def test_every_format_is_written_and_parses(run_dir: Path) -> None:
    import srt
    import webvtt
    from praatio import textgrid
    from pyannote.database.util import load_rttm

    from qasr_plugins.document import ResultDocument

    document = ResultDocument.load(run_dir / "sample.json")
    words = list(document.transcript.words())
    assert words and all(w.speaker for w in words)  # attribution ran
    speakers = set(document.diarization.turns.speakers)
    assert {s.speaker for s in document.transcript.segments} <= speakers

    assert list(srt.parse((run_dir / "sample.srt").read_text(encoding="utf-8")))
    assert {c.voice for c in webvtt.read(str(run_dir / "sample.vtt"))} <= speakers
    assert set(load_rttm(str(run_dir / "sample.rttm"))["sample"].labels()) == speakers
    ctm = [line.split() for line in (run_dir / "sample.ctm").read_text(encoding="utf-8").splitlines()]
    assert len(ctm) == len(words) and all(len(row) == 5 and row[0] == "sample" for row in ctm)
    grid = textgrid.openTextgrid(str(run_dir / "sample.TextGrid"), includeEmptyIntervals=False)
    assert {name.split(" - ")[0] for name in grid.tierNames} <= speakers
    assert (run_dir / "sample.txt").read_text(encoding="utf-8").strip()
    assert (run_dir / "sample.tsv").read_text(encoding="utf-8").startswith("start\tend\tspeaker\ttext\n")
    whisperx = json.loads((run_dir / "sample.whisperx.json").read_text(encoding="utf-8"))
    assert len(whisperx["word_segments"]) == len(words)
    entry = json.loads((run_dir / "sample.manifest.jsonl").read_text(encoding="utf-8"))
    assert entry["pred_text"] == document.transcript.text and entry["duration"] == pytest.approx(30.0, abs=0.1)
    assert Path(entry["word_level_ctm_filepath"]) == (run_dir / "sample.ctm").resolve()  # the run also wrote CTM
    joined = (run_dir / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in joined] == [entry]


def test_eval_scores_the_run_against_its_own_rttm(run_dir: Path) -> None:
    result = CliRunner().invoke(app, ["eval", "--ref", str(run_dir / "sample.rttm"), "--hyp",
                                      str(run_dir / "sample.json"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["files"][0]["der"]["value"] == 0.0


def test_eval_of_the_run_against_the_real_reference_agrees_with_pyannote_metrics(run_dir: Path,
                                                                                sample_rttm: Path) -> None:
    """The fake diarizer is wrong about the sample: qasr eval's DER of the run's JSON equals pyannote.metrics' DER
    of the run's RTTM file against the sample's reference, computed independently here."""
    from pyannote.database.util import load_rttm
    from pyannote.metrics.diarization import DiarizationErrorRate

    result = CliRunner().invoke(app, ["eval", "--ref", str(sample_rttm), "--hyp", str(run_dir / "sample.json"),
                                      "--collar", "0.25", "--json"])
    assert result.exit_code == 0, result.output
    ours = json.loads(result.output)["files"][0]["der"]["value"]
    expected = DiarizationErrorRate(collar=0.25)(load_rttm(str(sample_rttm))["sample"],
                                                load_rttm(str(run_dir / "sample.rttm"))["sample"])
    assert ours > 0.05 and ours == pytest.approx(expected, abs=1e-3)
