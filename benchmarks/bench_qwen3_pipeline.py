"""End-to-end speed of the ``qwen3_asr_aligned`` pipeline (Silero VAD → Qwen3-ASR → Qwen3-ForcedAligner).

Real-size Qwen3-ASR-0.6B and Qwen3-ForcedAligner-0.6B models built from the released configurations (``--asr-config``,
``--aligner-config``; default ``/work/shared/reference/qwen3/``, else ``benchmarks/configs/``) with random weights,
run as users run the pipeline on ``--minutes`` of audio (pyannote's 30 s sample tiled). Random weights never stop,
so the ASR's answers end by a scripted end token at ``--tokens-per-second`` × the segment's length
(:mod:`bench_qwen3_common`); their text is random, so the aligner is told the language (``en``). The aligner's QC
re-aligns suspect runs only with ``--realign``: random weights make nearly every run suspect (re-aligning then
doubles the aligner's work), a trained model rarely does — as in ``bench_qwen3_aligner.py``.

Prints, per stage, its real-time factor (stage time / recording length) and its peak resident memory (the
process's high-water mark, reset before each stage where Linux allows it), plus loading time and the whole
run's peak. The stage cache is off.

    .venv/bin/python benchmarks/bench_qwen3_pipeline.py --minutes 10
    .venv/bin/python benchmarks/bench_qwen3_pipeline.py --minutes 0.5 --smoke   # tiny models: does it run?
    .venv/bin/python benchmarks/bench_qwen3_pipeline.py --profile --set stages.asr.batch_size=16   # time split
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_qwen3_common import REFERENCE, load_average, peak_mb, recording, script_decode
from qwen3_profile import ModelProfile, stage_model

CONFIGS = HERE / "configs"


def _config(name: str) -> Path:
    found = REFERENCE / name
    return found if found.is_file() else CONFIGS / name


def build_checkpoint(target: Path, kind: str, config: Path | None, dtype: str) -> Path:
    """An original-layout random-weight checkpoint of ``kind`` (``config`` None: tiny sizes); reused when present."""
    if (target / "model.safetensors").is_file():
        return target
    from qasr_plugins.qwen3.tiny import build_tiny

    original = None if config is None else json.loads(config.read_text(encoding="utf-8"))
    return build_tiny(target, kind=kind, layout="original", config=original, dtype=dtype)  # type: ignore[arg-type]


def reset_peak() -> bool:
    """Reset this process's resident-memory high-water mark (Linux ``clear_refs``); whether it could."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--tokens-per-second", type=float, default=3.3)
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="bfloat16")
    parser.add_argument("--quantize", choices=("int8",), help="Both stages' quantize setting.")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--batch-size", type=int, default=8, help="ASR pieces per generate call.")
    parser.add_argument("--asr-config", type=Path, default=_config("Qwen3-ASR-0.6B.config.json"))
    parser.add_argument("--aligner-config", type=Path, default=_config("Qwen3-ForcedAligner-0.6B.config.json"))
    parser.add_argument("--smoke", action="store_true", help="Tiny models instead of real-size ones (checks that "
                                                             "the benchmark runs; its timings mean nothing).")
    parser.add_argument("--realign", action="store_true", help="Let the aligner's QC re-align suspect runs (extra "
                                                               "model calls on nearly every segment here).")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="A pipeline setting on top of the benchmark's (repeatable), e.g. "
                             "stages.asr.batch_size=16.")
    parser.add_argument("--profile", action="store_true", help="Also split each Qwen3 stage's time into audio "
                                                               "encoder, decoder prefill, decode steps, output head "
                                                               "and the rest (forward hooks; adds no work).")
    parser.add_argument("--release-models", action="store_true",
                        help="run.release_models: each stage loads when its node runs and is released after it, so "
                             "one model is in memory at a time (stage times exclude loading, peaks include it).")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/qasr-bench"))
    parser.add_argument("--output", type=Path, help="Write the results as JSON here.")
    args = parser.parse_args()
    if args.profile and args.release_models:
        parser.error("--profile needs the models loaded before the run; leave out --release-models")

    import soundfile
    import torch

    from qasr_plugins import Pipeline

    torch.set_num_threads(args.threads)
    size = "tiny" if args.smoke else "0.6b"
    asr = build_checkpoint(args.workdir / f"qwen3-asr-{size}-random-{args.dtype}", "asr",
                           None if args.smoke else args.asr_config, args.dtype)
    aligner = build_checkpoint(args.workdir / f"qwen3-aligner-{size}-random-{args.dtype}", "forced_aligner",
                               None if args.smoke else args.aligner_config, args.dtype)
    wav = args.workdir / f"recording-{args.minutes:g}min.wav"
    if not wav.is_file():
        soundfile.write(str(wav), recording(args.minutes), 16000)
    os.environ.setdefault("QASR_CACHE", str(args.workdir / "cache"))
    os.environ["HF_HUB_OFFLINE"] = "1"

    started = time.perf_counter()
    pipeline = Pipeline.from_config("qwen3_asr_aligned", [
        f"stages.asr.model={asr}", f"stages.asr.dtype={args.dtype}", f"stages.asr.batch_size={args.batch_size}",
        "stages.asr.repetition_threshold=0", f"stages.align.model={aligner}", f"stages.align.dtype={args.dtype}",
        "stages.align.language=en", f"stages.align.realign={str(args.realign).lower()}",
        *([f"stages.asr.quantize={args.quantize}", f"stages.align.quantize={args.quantize}"] if args.quantize else []),
        *(["run.release_models=true"] if args.release_models else []), *args.overrides], cache=False).load()
    scripted = script_decode(args.tokens_per_second)
    loading = time.perf_counter() - started
    loaded_peak = peak_mb()

    from qasr_plugins.audio import load_audio

    profiles = {node: ModelProfile(stage_model(pipeline.executor.stages[node]))
                for node in ("asr", "align")} if args.profile else {}

    audio = load_audio(wav)
    peaks: dict[str, float] = {}
    current: list[str] = []
    resettable = reset_peak()

    def on_stage(name: str) -> None:
        if current:
            peaks[current[-1]] = peak_mb()
            reset_peak()
        current.append(name)

    load_before = load_average()
    running = time.perf_counter()
    (document,) = pipeline.executor.process([audio], on_stage=on_stage)
    running = time.perf_counter() - running
    if current:
        peaks[current[-1]] = peak_mb()
    if isinstance(document, Exception):
        raise document
    stages = [{"node": r.node, "name": r.name, "seconds": round(r.wall_time, 3),
               "rtf": round(r.wall_time / audio.duration, 4), "peak_rss_mb": round(peaks.get(r.node, 0.0))}
              for r in document.provenance]
    for stage in stages:
        if stage["node"] in profiles:
            stage["split"] = profiles[stage["node"]].split(stage["seconds"])
    total = sum(s["seconds"] for s in stages)
    if args.release_models:  # the stages loaded during the run, outside their records' times
        loading += running - total
    segments = document.transcript.segments if document.transcript else ()
    words = sum(len(s.words) for s in segments)
    summary = {"minutes": args.minutes, "dtype": args.dtype, "quantize": args.quantize, "threads": args.threads,
               "smoke": args.smoke, "realign": args.realign, "release_models": args.release_models,
               "settings": args.overrides,
               "load_s": round(loading, 2), "loaded_rss_mb": round(loaded_peak),
               "peak_rss_mb": round(max([loaded_peak, *peaks.values()])), "stages": stages,
               "rtf": round(total / audio.duration, 4),
               "rtf_with_loading": round((total + loading) / audio.duration, 4), "segments": len(segments), "words": words,
               "decoded_tokens": scripted.decoded, "peak_is_per_stage": resettable,
               "load_average": [load_before, load_average()]}
    print(f"{audio.duration:.0f} s of audio, {len(segments)} segments, {words} words, "
          f"{scripted.decoded} decoded tokens; models loaded in {loading:.1f} s (RSS {loaded_peak:.0f} MB)")
    for stage in stages:
        print(f"  {stage['node']:6s} {stage['name']:22s} RTF {stage['rtf']:.4f}  {stage['seconds']:8.2f} s  "
              f"peak RSS {stage['peak_rss_mb']:.0f} MB")
        for part, figures in stage.get("split", {}).items():
            counts = f"  {figures['calls']} calls, {figures['positions']} positions" if "calls" in figures else ""
            print(f"         {part:8s} {figures['seconds']:8.2f} s  {100 * figures['share']:5.1f} %{counts}")
    print(f"  total  RTF {summary['rtf']:.4f} ({summary['rtf_with_loading']:.4f} with loading), peak RSS "
          f"{summary['peak_rss_mb']} MB; 1-minute load average {load_before:.1f}→{load_average():.1f}"
          + ("" if resettable else " (peaks are the process's, not per stage)"))
    if args.output:
        args.output.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
