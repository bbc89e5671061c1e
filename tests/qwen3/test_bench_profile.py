"""The Qwen3 benchmarks: the time split of each model part, the pipeline benchmark end to end, the accuracy guard."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from qasr_plugins.audio import load_audio
from qasr_plugins.stage import AsrInput
from qasr_plugins.types import Span

BENCHMARKS = Path(__file__).parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
from qwen3_profile import ModelProfile, stage_model


def test_profile_splits_asr_time_into_encoder_prefill_decode_head(tiny_asr: Path, sample_wav: Path) -> None:
    from qasr_plugins.qwen3.asr import Qwen3Asr

    asr = Qwen3Asr(model=str(tiny_asr), max_new_tokens=5)
    asr.ensure_loaded()
    profile = ModelProfile(stage_model(asr))
    audio = load_audio(sample_wav).crop(Span(0.0, 8.0))
    asr(AsrInput(audio))
    split = profile.split(10.0)
    assert split["encoder"]["calls"] >= 1 and split["prefill"]["calls"] >= 1
    assert split["decode"]["calls"] >= 1 and split["decode"]["positions"] == split["decode"]["calls"]
    assert split["prefill"]["positions"] > 8 * 12  # the prompt holds about 13 audio positions per second
    assert split["head"]["calls"] == split["prefill"]["calls"] + split["decode"]["calls"]
    total = sum(part["seconds"] for part in split.values())
    assert abs(total - 10.0) < 0.01 and split["other"]["seconds"] > 0


def test_pipeline_benchmark_prints_stage_rtf_and_split(tmp_path: Path) -> None:
    output = tmp_path / "pipeline.json"
    done = subprocess.run([sys.executable, str(BENCHMARKS / "bench_qwen3_pipeline.py"), "--smoke", "--profile",
                           "--minutes", "0.25", "--workdir", str(tmp_path), "--output", str(output),
                           "--set", "stages.align.batch_size=2"],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(output.read_text())
    assert [s["name"] for s in summary["stages"]] == ["silero.vad", "qwen3.asr", "qwen3.forced_aligner"]
    assert summary["settings"] == ["stages.align.batch_size=2"]
    aligner = summary["stages"][2]
    assert set(aligner["split"]) >= {"encoder", "prefill", "head", "other"} and "decode" not in aligner["split"]
    assert "encoder" in done.stdout and "RTF" in done.stdout


def test_accuracy_guard_compares_every_variant_with_float32(tmp_path: Path) -> None:
    output = tmp_path / "accuracy.json"
    done = subprocess.run([sys.executable, str(BENCHMARKS / "accuracy_qwen3_int8.py"), "--smoke", "--minutes", "0.5",
                           "--segments", "2", "--tokens", "6", "--workdir", str(tmp_path), "--output", str(output)],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(output.read_text())
    variants = {"bfloat16", "float32+int8", "bfloat16+int8"}
    assert set(results["asr"]) == variants and set(results["aligner"]) == variants
    for figures in results["asr"].values():
        assert figures["positions"] == 2 * 6 and 0 <= figures["top1_agreement"] <= 1 and figures["kl_mean"] > -1e-6
    int8 = results["asr"]["float32+int8"]
    assert 0 < int8["kl_mean"] < 1  # int8 moves the tiny model, but only a little
    for figures in results["aligner"].values():
        assert figures["slots"] > 0 and figures["class_agreement"] <= figures["within_one_step"] <= 1
        assert figures["kl_mean"] > -1e-6


def test_pipeline_benchmark_with_released_models_counts_loading_and_the_peak(tmp_path: Path) -> None:
    output = tmp_path / "pipeline.json"
    done = subprocess.run([sys.executable, str(BENCHMARKS / "bench_qwen3_pipeline.py"), "--smoke", "--release-models",
                           "--quantize", "int8", "--minutes", "0.25", "--workdir", str(tmp_path),
                           "--output", str(output)],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(output.read_text())
    assert summary["release_models"] is True and summary["load_s"] > 0
    assert summary["rtf_with_loading"] > summary["rtf"] > 0
    assert summary["peak_rss_mb"] == max(summary["loaded_rss_mb"], *(s["peak_rss_mb"] for s in summary["stages"]))
    refused = subprocess.run([sys.executable, str(BENCHMARKS / "bench_qwen3_pipeline.py"), "--smoke", "--profile",
                              "--release-models"], capture_output=True, text=True, timeout=60, check=False)
    assert refused.returncode == 2 and "--profile" in refused.stderr
