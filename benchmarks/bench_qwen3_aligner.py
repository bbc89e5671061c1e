"""Speed of ``qwen3.forced_aligner`` against the official ``qwen_asr.Qwen3ForcedAligner`` on real-size random weights.

Builds a Qwen3-ForcedAligner-0.6B-sized checkpoint in the original (qwen-asr) layout from the released
configuration (``--reference-config``) with random weights, then times, in one run, on the same audio and text:

* ours: the stage as users run it (one segment over the file, windows of ≤ 180 s, QC and repair on; re-aligning
  suspect runs is off unless ``--realign``: random weights make every run suspect, a trained model rarely does);
* official: ``Qwen3ForcedAligner.align`` in the reference environment (``--reference-python``, a worker
  process), called on the same ≤ 180 s windows one after another (it has no long-audio path of its own).

Both models stay loaded; the two sides run alternately, case by case, so that they see the same machine load.

Cases: 30 s with 80 words, and 10 minutes with 1,600 words. Prints a table and writes JSON (``--output``).

    python benchmarks/bench_qwen3_aligner.py --reference-python .refenv/bin/python --dtype bfloat16
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = ROOT / "benchmarks" / "configs" / "Qwen3-ForcedAligner-0.6B.config.json"
SAMPLE_RATE = 16_000
WORDS = ["time", "people", "year", "way", "day", "thing", "man", "world", "life", "hand", "part", "child", "eye",
         "woman", "place", "work", "week", "case", "point", "government", "company", "number", "group", "problem",
         "fact", "speech", "model", "signal", "word", "align"]

_OFFICIAL = r"""
import json, sys, time
import numpy as np, torch
from qwen_asr import Qwen3ForcedAligner
request = json.load(open(sys.argv[1]))
torch.set_num_threads(request["threads"])
aligner = Qwen3ForcedAligner.from_pretrained(request["checkpoint"], dtype=getattr(torch, request["dtype"]),
                                             device_map="cpu")
cases = {case["name"]: case for case in request["cases"]}
warm = np.load(request["cases"][0]["audio"])[: 5 * 16000]
aligner.align(audio=[(warm, 16000)], text=["warm up"], language=["English"])
print("ready", flush=True)
for line in sys.stdin:
    case = cases[line.strip()]
    audio = np.load(case["audio"])
    started = time.perf_counter()
    for (start, end), text in zip(case["windows"], case["texts"]):
        aligner.align(audio=[(audio[int(start * 16000):int(end * 16000)], 16000)], text=[text], language=["English"])
    print(time.perf_counter() - started, flush=True)
"""


def speechlike(seconds: float, seed: int) -> np.ndarray:
    """Voiced bursts of 0.15-0.45 s between short pauses (reproducible), from the test kit's ``dummy_audio``."""
    from qasr_plugins.testing.dummies import dummy_audio

    rng = np.random.default_rng(seed)
    bursts, position = [], 0.2
    while position < seconds - 0.2:
        length = min(float(rng.uniform(0.15, 0.45)), seconds - position)
        bursts.append((position, position + length))
        position += length + float(rng.uniform(0.03, 0.2))
    return dummy_audio(seconds, bursts, seed=seed, level=0.2, noise=1e-3).waveform


def build_checkpoint(target: Path, reference_config: Path, dtype: str) -> Path:
    """Original-layout checkpoint with the released configuration and random weights (tokenizer: the tiny one,
    which keeps every special token at its real id)."""
    import torch
    from safetensors.torch import save_file
    from transformers import Qwen3ASRConfig, Qwen3ASRForTokenClassification

    from qasr_plugins.qwen3.convert import native_config
    from qasr_plugins.qwen3.tiny import build_tiny, original_name

    if (target / "model.safetensors").is_file():
        return target
    build_tiny(target, kind="forced_aligner", layout="original")
    original = json.loads(reference_config.read_text(encoding="utf-8"))
    original["thinker_config"]["dtype"] = dtype
    config = Qwen3ASRConfig(**native_config(original, "forced_aligner"))
    with torch.device("meta"):
        model = Qwen3ASRForTokenClassification(config)
    generator = torch.Generator().manual_seed(0)
    weights = {}
    for name, parameter in model.named_parameters():
        if name.endswith(("norm.weight", "ln_post.weight")):
            tensor = torch.ones(parameter.shape)
        elif name.endswith(".bias"):
            tensor = torch.zeros(parameter.shape)
        else:
            tensor = torch.randn(parameter.shape, generator=generator) * 0.02
        weights[original_name(name, "forced_aligner")] = tensor.to(getattr(torch, dtype)).contiguous()
    save_file(weights, str(target / "model.safetensors"), metadata={"format": "pt"})
    (target / "config.json").write_text(json.dumps(original, indent=2), encoding="utf-8")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-python", default=str(ROOT / ".refenv" / "bin" / "python"))
    parser.add_argument("--reference-config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--dtype", choices=("bfloat16", "float32"), default="bfloat16")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=1, help="Our windows per forward pass.")
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "qasr-bench-aligner")
    parser.add_argument("--cases", default="30s,10min")
    parser.add_argument("--repeat", type=int, default=1, help="Runs per case (the fastest counts).")
    parser.add_argument("--realign", action="store_true", help="Re-align suspect runs (extra model calls).")
    parser.add_argument("--quantize", choices=("int8",), help="Our stage's quantize setting.")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()

    import torch

    from qasr_plugins.alignment.text import split_units
    from qasr_plugins.alignment.windows import plan_windows
    from qasr_plugins.qwen3.aligner import Qwen3ForcedAligner
    from qasr_plugins.stage import AlignInput
    from qasr_plugins.types import Audio, Span, Transcript, TranscriptSegment

    torch.set_num_threads(args.threads)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    checkpoint = build_checkpoint(args.work_dir / f"aligner-0.6b-random-{args.dtype}", args.reference_config,
                                  args.dtype)
    print(f"checkpoint ready in {time.perf_counter() - started:.1f} s: {checkpoint}", file=sys.stderr)

    specs = {"30s": (30.0, 80), "10min": (600.0, 1600)}
    cases = []
    for name in args.cases.split(","):
        seconds, count = specs[name]
        rng = np.random.default_rng(len(name))
        text = " ".join(str(w) for w in rng.choice(WORDS, count))
        audio = Audio(name, speechlike(seconds, seed=count))
        units = split_units(text, "en")
        windows = plan_windows([audio.span], [[len(u.text) for u in units]], audio, 180.0)
        texts = [" ".join(u.text for u in units[p.first:p.stop]) for w in windows for p in w.pieces]
        np.save(args.work_dir / f"{name}.npy", audio.waveform)
        cases.append({"name": name, "seconds": seconds, "words": count, "text": text, "audio_obj": audio,
                      "audio": str(args.work_dir / f"{name}.npy"),
                      "windows": [[w.span.start, w.span.end] for w in windows], "texts": texts})

    stage = Qwen3ForcedAligner(model=str(checkpoint), dtype=args.dtype, threads=args.threads, language="en",
                               realign=args.realign, batch_size=args.batch_size, quantize=args.quantize)
    started = time.perf_counter()
    stage.ensure_loaded()
    load_seconds = time.perf_counter() - started
    warm = cases[0]["audio_obj"].crop(Span(0, 5))
    stage(AlignInput(warm, Transcript("warm", (TranscriptSegment(warm.span, "warm up", "en"),))))
    request = {"checkpoint": str(checkpoint), "dtype": args.dtype, "threads": args.threads,
               "cases": [{k: v for k, v in c.items() if k != "audio_obj"} for c in cases]}
    (args.work_dir / "request.json").write_text(json.dumps(request), encoding="utf-8")
    official_worker = subprocess.Popen([args.reference_python, "-c", _OFFICIAL, str(args.work_dir / "request.json")],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert official_worker.stdout is not None and official_worker.stdin is not None
    if official_worker.stdout.readline().strip() != "ready":
        raise SystemExit("the official aligner failed to start")
    # Interleaved case by case, alternating which side goes first, so that both see the same machine load.
    ours: dict[str, float] = {}
    official: dict[str, float] = {}
    for case in cases:
        audio = case["audio_obj"]
        transcript = Transcript(case["name"], (TranscriptSegment(audio.span, case["text"], "en"),))
        for repeat in range(args.repeat):
            for side in ("official", "ours") if repeat % 2 == 0 else ("ours", "official"):
                if side == "official":
                    official_worker.stdin.write(case["name"] + "\n")
                    official_worker.stdin.flush()
                    seconds = float(official_worker.stdout.readline())
                    official[case["name"]] = min(official.get(case["name"], seconds), seconds)
                else:
                    started = time.perf_counter()
                    stage.process([AlignInput(audio, transcript)])
                    seconds = time.perf_counter() - started
                    ours[case["name"]] = min(ours.get(case["name"], seconds), seconds)
            print(f"{case['name']}: ours {ours[case['name']]:.2f} s, official {official[case['name']]:.2f} s",
                  file=sys.stderr)
    official_worker.stdin.close()
    official_worker.wait()

    rows = []
    print(f"{'case':<7} {'words':>5} {'windows':>7} {'ours s':>8} {'ours RTF':>9} {'official s':>10} "
          f"{'official RTF':>12} {'speed-up':>8}")
    for case in cases:
        name = case["name"]
        row = {"case": name, "seconds": case["seconds"], "words": case["words"], "windows": len(case["windows"]),
               "ours_s": ours[name], "ours_rtf": ours[name] / case["seconds"], "official_s": official[name],
               "official_rtf": official[name] / case["seconds"], "speedup": official[name] / ours[name]}
        rows.append(row)
        print(f"{name:<7} {row['words']:>5} {row['windows']:>7} {row['ours_s']:>8.2f} {row['ours_rtf']:>9.4f} "
              f"{row['official_s']:>10.2f} {row['official_rtf']:>12.4f} {row['speedup']:>7.2f}x")
    result = {"dtype": args.dtype, "quantize": args.quantize, "threads": args.threads, "realign": args.realign,
              "batch_size": args.batch_size,
              "repeat": args.repeat,
              "torch": torch.__version__,
              "load_seconds_ours": load_seconds, "rows": rows}
    if args.output:
        args.output.write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
