"""The offline pipeline's diarization on the held-out test split of the synthetic corpus and on pyannote's sample,
measured as ``scripts/measure_offline_quality.py --split test --no-asr`` measures it (docs/quality.md): bounds with
margin above the numbers measured when written, so that a change that makes them worse fails here."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("sox") is None,
                                 reason="needs espeak-ng and sox")]


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    spec = importlib.util.spec_from_file_location("measure_offline_quality",
                                                  ROOT / "scripts" / "measure_offline_quality.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = script  # its dataclasses look their module up
    spec.loader.exec_module(script)
    work = tmp_path_factory.mktemp("quality")
    return script.measure(work, script.Settings(split="test", asr=False), corpus_dir=work / "corpus")


def test_the_test_split_keeps_its_measured_diarization(measured) -> None:
    test = measured["summary"]["test"]
    assert not measured["failed"]
    assert test["files"] == 24
    assert test["der"] <= 0.14, test  # 11.20 % measured (collar 0.25 s)
    assert test["speaker_count_accuracy"] >= 12 / 24, test  # 14 of 24 measured


def test_the_sample_keeps_its_measured_diarization(measured) -> None:
    sample = measured["summary"]["sample"]
    assert sample["der"] <= 0.07, sample  # 4.63 % measured
    assert sample["speaker_count_accuracy"] == 1.0
