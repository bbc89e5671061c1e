"""Speed of the ``qwen3.asr`` stage against a naive per-segment ``generate`` loop and the official qwen-asr package.

Real-size Qwen3-ASR-0.6B architecture (the released config.json, read from benchmarks/configs unless
``--config`` says otherwise) with random weights, a multi-segment recording made by tiling pyannote's 30 s sample,
and VAD-like segments of 4–16 s. Each method runs in its own process (so peak memory is its own) on the same
checkpoint, segments and token budget: random weights never stop on their own, so every segment decodes exactly
``--tokens`` tokens (about 3 tokens per second of speech by default).

    .venv/bin/python benchmarks/bench_qwen3_asr.py --minutes 10
    .venv/bin/python benchmarks/bench_qwen3_asr.py --minutes 1 --methods qasr,naive   # quick look

The official package is measured when ``--official-python`` (default .refenv/bin/python, made by scripts/make_reference_env.sh) has ``qwen_asr``.
Module-level imports stay within the standard library and numpy so that the official worker can run this file.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_CONFIG = REPO / "benchmarks" / "configs" / "Qwen3-ASR-0.6B.config.json"


def _peak_mb() -> float:
    """Peak resident memory of this process (VmHWM; ru_maxrss would include the parent's peak after fork)."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _segments(minutes: float, seed: int = 0) -> tuple[np.ndarray, list[tuple[float, float]]]:
    import soundfile

    sample = REPO / ".venv" / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    wave, _ = soundfile.read(str(_sample_wav(sample)), dtype="float32")
    total = int(minutes * 60 * 16000)
    audio = np.resize(wave, total).astype(np.float32)
    rng = np.random.default_rng(seed)
    regions, start = [], 0.2
    while start < minutes * 60 - 1.0:
        end = min(start + float(rng.uniform(4.0, 16.0)), minutes * 60)
        regions.append((round(start, 3), round(end, 3)))
        start = end + 0.4
    return audio, regions


def _sample_wav(site: Path) -> Path:
    try:
        import pyannote.audio

        return Path(pyannote.audio.__file__).parent / "sample" / "sample.wav"
    except ImportError:
        return site / "pyannote" / "audio" / "sample" / "sample.wav"


def worker_qasr(args: argparse.Namespace, audio: np.ndarray, regions: list[tuple[float, float]]) -> dict:
    from qasr_plugins.qwen3.asr import Qwen3Asr
    from qasr_plugins.stage import AsrInput
    from qasr_plugins.types import Audio, Span, SpeechRegions

    started = time.perf_counter()
    stage = Qwen3Asr(model=str(args.checkpoint), dtype=args.dtype, batch_size=args.batch_size,
                     max_new_tokens=args.tokens)
    stage.ensure_loaded()
    loaded = time.perf_counter()
    item = AsrInput(Audio("bench", audio), SpeechRegions("bench", tuple(Span(s, e) for s, e in regions)))
    transcript = stage.process([item])[0]
    return {"load_s": loaded - started, "run_s": time.perf_counter() - loaded, "segments": len(transcript.segments)}


def worker_naive(args: argparse.Namespace, audio: np.ndarray, regions: list[tuple[float, float]]) -> dict:
    import torch

    from qasr_plugins.qwen3.loading import load_model

    started = time.perf_counter()
    loaded_model = load_model(str(args.checkpoint), kind="asr", dtype=args.dtype)
    model, processor = loaded_model.model, loaded_model.processor
    loaded = time.perf_counter()
    for start, end in regions:
        inputs = processor.apply_transcription_request([audio[int(start * 16000):int(end * 16000)]])
        inputs["input_features"] = inputs["input_features"].to(model.dtype)
        with torch.inference_mode():
            model.generate(**inputs, max_new_tokens=args.tokens, do_sample=False)
    return {"load_s": loaded - started, "run_s": time.perf_counter() - loaded, "segments": len(regions)}


def worker_official(args: argparse.Namespace, audio: np.ndarray, regions: list[tuple[float, float]]) -> dict:
    import torch
    from qwen_asr import Qwen3ASRModel

    started = time.perf_counter()
    asr = Qwen3ASRModel.from_pretrained(str(args.checkpoint), dtype=getattr(torch, args.dtype), device_map="cpu",
                                        max_inference_batch_size=args.batch_size, max_new_tokens=args.tokens)
    loaded = time.perf_counter()
    results = asr.transcribe(audio=[(audio[int(s * 16000):int(e * 16000)], 16000) for s, e in regions])
    return {"load_s": loaded - started, "run_s": time.perf_counter() - loaded, "segments": len(results)}


WORKERS = {"qasr": worker_qasr, "naive": worker_naive, "official": worker_official}


def run_worker(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    data = np.load(args.data)
    audio = data["audio"]
    regions = [tuple(r) for r in data["regions"].tolist()]
    result = WORKERS[args.worker](args, audio, regions)
    result.update(method=args.worker, peak_rss_mb=_peak_mb(), torch=torch.__version__)
    print("RESULT " + json.dumps(result), flush=True)


def build_checkpoint(config_path: Path, target: Path, dtype: str) -> Path:
    """A real-size original-layout checkpoint with random weights (reused when present)."""
    if (target / "model.safetensors").is_file():
        return target
    from qasr_plugins.qwen3.tiny import build_tiny

    config = json.loads(config_path.read_text(encoding="utf-8"))
    return build_tiny(target, kind="asr", layout="original", config=config, dtype=dtype)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--tokens", type=int, default=32, help="Decoded tokens per segment.")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="bfloat16")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--methods", default="qasr,naive,official")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/qasr-bench"))
    parser.add_argument("--official-python", default=str(HERE.parent / ".refenv" / "bin" / "python"))
    parser.add_argument("--output", type=Path, help="Write the results as JSON here.")
    parser.add_argument("--worker", choices=tuple(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--checkpoint", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(args)
        return

    args.workdir.mkdir(parents=True, exist_ok=True)
    checkpoint = build_checkpoint(args.config, args.workdir / f"qwen3-asr-0.6b-random-{args.dtype}", args.dtype)
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
                   "--checkpoint", str(checkpoint), "--tokens", str(args.tokens), "--batch-size",
                   str(args.batch_size), "--dtype", args.dtype, "--threads", str(args.threads)]
        load_before = os.getloadavg()[0]
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, check=False)
        line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            print(f"{method}: failed\n{done.stderr[-3000:]}")
            continue
        result = json.loads(line[len("RESULT "):])
        result["rtf"] = result["run_s"] / speech
        result["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
        results.append(result)
        print(f"{method:9s} RTF {result['rtf']:.3f}  run {result['run_s']:.1f} s  load {result['load_s']:.1f} s  "
              f"peak RSS {result['peak_rss_mb']:.0f} MB  ({result['segments']} segments, load average "
              f"{result['load_average'][0]:.1f}→{result['load_average'][1]:.1f})", flush=True)
    summary = {"machine": f"{os.cpu_count()} CPU cores, no GPU", "minutes": args.minutes, "speech_s": speech, "segments": len(regions), "tokens": args.tokens,
               "batch_size": args.batch_size, "dtype": args.dtype, "threads": args.threads, "results": results}
    if args.output:
        args.output.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
