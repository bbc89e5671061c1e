"""Speed and memory of the ``offline`` pipeline: real-time factor (RTF) overall and per stage, peak memory.

Runs on pyannote's 30 s ``sample.wav`` and on a longer recording made by repeating it (10 minutes by default).
Models load once (timed separately); a first run on the sample warms caches (numba/librosa JIT, CTranslate2)
and is reported as ``cold``. RTF = processing seconds / audio seconds (below 1 is faster than real time).
Peak memory is the process's maximum resident set size.

    python benchmarks/bench_offline.py                 # sample + 10 min
    python benchmarks/bench_offline.py --minutes 3 --json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from qasr_plugins import Pipeline
from qasr_plugins.audio import load_audio
from qasr_plugins.types import Audio


def sample_wav() -> Path:
    spec = importlib.util.find_spec("pyannote.audio")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("pyannote.audio is not installed; it ships sample.wav.")
    return Path(next(iter(spec.submodule_search_locations))) / "sample" / "sample.wav"


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def measure(pipeline: Pipeline, audio: Audio, label: str) -> dict[str, Any]:
    started = time.perf_counter()
    document = pipeline(audio)
    total = time.perf_counter() - started
    stages = {record.node: record.wall_time / audio.duration for record in document.provenance}
    return {"run": label, "audio_s": round(audio.duration, 1), "wall_s": round(total, 2),
            "rtf": round(total / audio.duration, 4), "stage_rtf": {k: round(v, 4) for k, v in stages.items()},
            "speakers": len(document.diarization.turns.speakers) if document.diarization else 0,
            "words": sum(1 for _ in document.transcript.words()) if document.transcript else 0,
            "peak_rss_mib": round(peak_rss_mib())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="Length of the long recording.")
    parser.add_argument("--json", action="store_true", help="Print JSON instead of a table.")
    parser.add_argument("overrides", nargs="*", help="Pipeline overrides, e.g. stages.asr.cpu_threads=2.")
    args = parser.parse_args()

    sample = load_audio(sample_wav())
    repeats = int(np.ceil(args.minutes * 60 / sample.duration))
    long = replace(sample, uri=f"sample_x{repeats}", path=None,
                   waveform=np.tile(sample.waveform, repeats)[: int(args.minutes * 60 * sample.sample_rate)])

    pipeline = Pipeline.from_config("offline", args.overrides, formats=["json"])
    started = time.perf_counter()
    pipeline.load()
    load_s = time.perf_counter() - started
    rows = [measure(pipeline, sample, "sample (cold)"), measure(pipeline, sample, "sample"),
            measure(pipeline, long, f"{args.minutes:g} min")]
    result = {"load_s": round(load_s, 2), "runs": rows}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    nodes = list(rows[0]["stage_rtf"])
    print(f"model load: {load_s:.2f} s")
    header = ["run", "audio s", "wall s", "RTF", *(f"{n} RTF" for n in nodes), "speakers", "words", "peak MiB"]
    print(" | ".join(header))
    for row in rows:
        cells = [row["run"], row["audio_s"], row["wall_s"], row["rtf"], *(row["stage_rtf"][n] for n in nodes),
                 row["speakers"], row["words"], row["peak_rss_mib"]]
        print(" | ".join(str(c) for c in cells))


if __name__ == "__main__":
    main()
