"""Speed of the ``qwen3.asr`` stage against a naive per-segment ``generate`` loop and the official qwen-asr package.

Real-size Qwen3-ASR-0.6B architecture (the released config.json, read from benchmarks/configs unless
``--config`` says otherwise) with random weights, a multi-segment recording made by tiling pyannote's 30 s sample,
and VAD-like segments of 4–16 s. Each method runs in its own process (so peak memory is its own) on the same
checkpoint and segments. Random weights never stop on their own, so every method's ``generate`` is stopped by a
scripted end token once a segment has ``--tokens-per-second`` × its length tokens (3.3 by default, about what
speech gives; :mod:`bench_qwen3_common`), so segments decode realistic, unequal lengths and static batching pays
for its padding as it would on real speech. ``qwen3.asr`` runs with its loop guard off so that nothing else stops it.

The 1-minute load average is noted before and after each method (the machine settles for up to ``--settle``
seconds first); speed ratios are printed only when every method started on a quiet machine (load ≤ 1.5, see
``--busy-load``), unless ``--allow-busy``.

    .venv/bin/python benchmarks/bench_qwen3_asr.py --minutes 10
    .venv/bin/python benchmarks/bench_qwen3_asr.py --minutes 1 --methods qasr,naive   # quick look

The official package is measured when ``--official-python`` (default .refenv/bin/python, made by scripts/make_reference_env.sh) has ``qwen_asr``.
Module-level imports stay within the standard library and numpy so that the official worker can run this file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_qwen3_common import (
    BUSY_LOAD,
    busy,
    load_average,
    peak_mb,
    recording,
    script_decode,
    script_generate,
    vad_like_regions,
)

REPO = HERE.parent
DEFAULT_CONFIG = REPO / "benchmarks" / "configs" / "Qwen3-ASR-0.6B.config.json"


def _segments(minutes: float, seed: int = 0) -> tuple[np.ndarray, list[tuple[float, float]]]:
    return recording(minutes), vad_like_regions(minutes, seed)


def worker_qasr(args: argparse.Namespace, audio: np.ndarray, regions: list[tuple[float, float]]) -> dict:
    from qasr_plugins.qwen3.asr import Qwen3Asr
    from qasr_plugins.stage import AsrInput
    from qasr_plugins.types import Audio, Span, SpeechRegions

    started = time.perf_counter()
    stage = Qwen3Asr(model=str(args.checkpoint), dtype=args.dtype, batch_size=args.batch_size,
                     max_new_tokens=args.max_new_tokens, repetition_threshold=0,
                     quantize="int8" if args.worker == "qasr-int8" else None)
    stage.ensure_loaded()
    scripted = script_decode(args.tokens_per_second)
    loaded = time.perf_counter()
    item = AsrInput(Audio("bench", audio), SpeechRegions("bench", tuple(Span(s, e) for s, e in regions)))
    transcript = stage.process([item])[0]
    return {"load_s": loaded - started, "run_s": time.perf_counter() - loaded, "segments": len(transcript.segments),
            "decoded_tokens": scripted.decoded, "generate_calls": scripted.calls}


def worker_naive(args: argparse.Namespace, audio: np.ndarray, regions: list[tuple[float, float]]) -> dict:
    import torch

    from qasr_plugins.qwen3.loading import load_model

    started = time.perf_counter()
    loaded_model = load_model(str(args.checkpoint), kind="asr", dtype=args.dtype)
    model, processor = loaded_model.model, loaded_model.processor
    scripted = script_generate(model, args.tokens_per_second)
    loaded = time.perf_counter()
    for start, end in regions:
        inputs = processor.apply_transcription_request([audio[int(start * 16000):int(end * 16000)]])
        inputs["input_features"] = inputs["input_features"].to(model.dtype)
        with torch.inference_mode():
            model.generate(**inputs, max_new_tokens=args.max_new_tokens, do_sample=False)
    return {"load_s": loaded - started, "run_s": time.perf_counter() - loaded, "segments": len(regions),
            "decoded_tokens": scripted.decoded, "generate_calls": scripted.calls}


def worker_official(args: argparse.Namespace, audio: np.ndarray, regions: list[tuple[float, float]]) -> dict:
    import torch
    from qwen_asr import Qwen3ASRModel

    started = time.perf_counter()
    asr = Qwen3ASRModel.from_pretrained(str(args.checkpoint), dtype=getattr(torch, args.dtype), device_map="cpu",
                                        max_inference_batch_size=args.batch_size, max_new_tokens=args.max_new_tokens)
    scripted = script_generate(asr.model, args.tokens_per_second)
    loaded = time.perf_counter()
    results = asr.transcribe(audio=[(audio[int(s * 16000):int(e * 16000)], 16000) for s, e in regions])
    return {"load_s": loaded - started, "run_s": time.perf_counter() - loaded, "segments": len(results),
            "decoded_tokens": scripted.decoded, "generate_calls": scripted.calls}


WORKERS = {"qasr": worker_qasr, "qasr-int8": worker_qasr, "naive": worker_naive, "official": worker_official}


def run_worker(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    data = np.load(args.data)
    audio = data["audio"]
    regions = [tuple(r) for r in data["regions"].tolist()]
    result = WORKERS[args.worker](args, audio, regions)
    result.update(method=args.worker, peak_rss_mb=peak_mb(), torch=torch.__version__)
    print("RESULT " + json.dumps(result), flush=True)


def build_checkpoint(config_path: Path | None, target: Path, dtype: str) -> Path:
    """An original-layout checkpoint with random weights, real-size (tiny when ``config_path`` is None); reused
    when present."""
    if (target / "model.safetensors").is_file():
        return target
    from qasr_plugins.qwen3.tiny import build_tiny

    config = None if config_path is None else json.loads(config_path.read_text(encoding="utf-8"))
    return build_tiny(target, kind="asr", layout="original", config=config, dtype=dtype)


def settle(limit: float, patience: float) -> float:
    """Wait up to ``patience`` s for the 1-minute load average to fall to ``limit``; returns the load then."""
    deadline = time.monotonic() + patience
    while load_average() > limit and time.monotonic() < deadline:
        time.sleep(5)
    return load_average()


def print_ratios(results: list[dict], allowed: bool, limit: float) -> None:
    """How much faster each ``qasr`` method is than each method before it in the run, when runs can be compared."""
    pairs = [(ours, other) for ours in results if ours["method"].startswith("qasr")
             for other in results if other is not ours and (not other["method"].startswith("qasr")
                                                            or results.index(other) < results.index(ours))]
    if not pairs:
        return
    if not allowed:
        print(f"no speed ratios: the machine was busy (1-minute load average above {limit:g} before a method; "
              "rerun on an idle machine or pass --allow-busy)")
        return
    for ours, other in pairs:
        print(f"{ours['method']} vs {other['method']}: {other['run_s'] / ours['run_s']:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--tokens-per-second", type=float, default=3.3,
                        help="Scripted answer length: tokens per second of speech.")
    parser.add_argument("--max-new-tokens", type=int, default=512, help="Longest answer per segment.")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="bfloat16")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--methods", default="qasr,qasr-int8,naive,official",
                        help="Comma-separated, run in this order: qasr (the stage as configured), qasr-int8 (the "
                             "same with quantize: int8), naive (one generate per segment), official (qwen-asr).")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/qasr-bench"))
    parser.add_argument("--official-python", default=str(HERE.parent / ".refenv" / "bin" / "python"))
    parser.add_argument("--output", type=Path, help="Write the results as JSON here.")
    parser.add_argument("--busy-load", type=float, default=BUSY_LOAD,
                        help="1-minute load average above which the machine counts as busy.")
    parser.add_argument("--settle", type=float, default=60.0,
                        help="Wait up to this long (s) before each method for the load to fall below --busy-load.")
    parser.add_argument("--smoke", action="store_true", help="A tiny model instead of the real-size one (checks "
                                                             "that the benchmark runs; its timings mean nothing).")
    parser.add_argument("--allow-busy", action="store_true", help="Print speed ratios even on a busy machine.")
    parser.add_argument("--worker", choices=tuple(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--checkpoint", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(args)
        return

    args.workdir.mkdir(parents=True, exist_ok=True)
    size = "tiny" if args.smoke else "0.6b"
    checkpoint = build_checkpoint(None if args.smoke else args.config,
                                  args.workdir / f"qwen3-asr-{size}-random-{args.dtype}", args.dtype)
    audio, regions = _segments(args.minutes)
    data = args.workdir / f"segments-{args.minutes:g}min.npz"
    np.savez(data, audio=audio, regions=np.asarray(regions))
    speech = sum(e - s for s, e in regions)
    env = {**os.environ, "QASR_CACHE": str(args.workdir / "cache"), "HF_HUB_OFFLINE": "1"}
    results = []
    for method in args.methods.split(","):
        python = args.official_python if method == "official" else sys.executable
        if method == "official" and subprocess.run([python, "-c", "import qwen_asr"], capture_output=True,
                                                   env=env, check=False).returncode != 0:
            print(f"official: skipped ({python} has no qwen_asr)")
            continue
        if method != "official":  # convert once outside the timed run
            convert = ("from pathlib import Path; from qasr_plugins.qwen3.loading import native_checkpoint; "
                       "from qasr_plugins.qwen3.layout import inspect_checkpoint; "
                       f"native_checkpoint(inspect_checkpoint(Path({str(checkpoint)!r})))")
            subprocess.run([sys.executable, "-c", convert], check=True, env=env)
        command = [python, str(Path(__file__).resolve()), "--worker", method, "--data", str(data),
                   "--checkpoint", str(checkpoint), "--tokens-per-second", str(args.tokens_per_second),
                   "--max-new-tokens", str(args.max_new_tokens), "--batch-size", str(args.batch_size),
                   "--dtype", args.dtype, "--threads", str(args.threads)]
        load_before = settle(args.busy_load, args.settle)
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, check=False)
        line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            print(f"{method}: failed\n{done.stderr[-3000:]}")
            continue
        result = json.loads(line[len("RESULT "):])
        result["rtf"] = result["run_s"] / speech
        result["load_average"] = [load_before, load_average()]
        results.append(result)
        print(f"{method:9s} RTF {result['rtf']:.3f}  run {result['run_s']:.1f} s  load {result['load_s']:.1f} s  "
              f"peak RSS {result['peak_rss_mb']:.0f} MB  ({result['segments']} segments, "
              f"{result['decoded_tokens']} tokens, load average "
              f"{result['load_average'][0]:.1f}→{result['load_average'][1]:.1f})", flush=True)
    quiet = not busy([r["load_average"][0] for r in results], args.busy_load)
    print_ratios(results, quiet or args.allow_busy, args.busy_load)
    summary = {"machine": f"{os.cpu_count()} CPU cores, no GPU", "minutes": args.minutes, "speech_s": speech,
               "segments": len(regions), "tokens_per_second": args.tokens_per_second,
               "max_new_tokens": args.max_new_tokens, "batch_size": args.batch_size, "dtype": args.dtype,
               "threads": args.threads, "quiet": quiet, "results": results}
    if args.output:
        args.output.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
