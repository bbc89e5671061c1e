"""Speed and memory of the ``offline`` pipeline: real-time factor (RTF) overall and per stage, peak memory.

Runs on pyannote's 30 s ``sample.wav`` and on a longer recording made by repeating it (10 minutes by default).
Models load once (timed separately); a first run on the sample warms caches (numba/librosa JIT, CTranslate2)
and is reported as ``cold``. RTF = processing seconds / audio seconds (below 1 is faster than real time).
Peak memory is the process's maximum resident set size.

``--diarizer`` measures the diarizer alone on long recordings (10 min, 1 h and 3 h by default), each in a fresh
process so that its peak memory is its own: the recording is the project's synthetic conversations rendered once
(espeak-ng) and concatenated until long enough, its speech regions the VAD's on each conversation shifted into
place (so the VAD's time is not counted). It reports the diarizer's RTF, the process's peak RSS and how much the
diarization added to it, the speakers found, and the machine's load average and other programs' share of the CPU
(from ``benchmarks/machine.py``): timing ratios mean something only on an idle machine, memory on any.

    python benchmarks/bench_offline.py                 # sample + 10 min
    python benchmarks/bench_offline.py --minutes 3 --json
    python benchmarks/bench_offline.py --diarizer      # diarizer alone: 10, 60 and 180 min
    python benchmarks/bench_offline.py --diarizer --lengths 10 60
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from qasr_plugins import Pipeline
from qasr_plugins.audio import load_audio
from qasr_plugins.types import Audio, Span, SpeechRegions


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


def rendered_conversations(directory: Path) -> tuple[Audio, SpeechRegions]:
    """The synthetic conversations rendered and joined into one recording, with the VAD's regions on each."""
    from qasr_plugins.stage import VadInput
    from qasr_plugins.stages.silero_vad import SileroVad
    from qasr_plugins.testing.synth import CONVERSATIONS, synthesize

    vad = SileroVad()
    vad.ensure_loaded()
    waves: list[np.ndarray] = []
    regions: list[Span] = []
    offset = 0.0
    for conversation in CONVERSATIONS.values():
        audio = load_audio(synthesize(conversation, directory).wav)
        regions.extend(r.shifted(offset) for r in vad.process([VadInput(audio)])[0])
        waves.append(audio.waveform)
        offset += audio.duration
    return Audio("conversations", np.concatenate(waves)), SpeechRegions("conversations", tuple(regions))


def repeated(audio: Audio, speech: SpeechRegions, minutes: float) -> tuple[Audio, SpeechRegions]:
    """``audio`` repeated to ``minutes`` long (the last copy cut), with its speech regions repeated likewise."""
    length = int(minutes * 60 * audio.sample_rate)
    copies = int(np.ceil(length / len(audio.waveform)))
    waveform = np.tile(audio.waveform, copies)[:length]
    end = length / audio.sample_rate
    regions = tuple(r.shifted(n * audio.duration).clamped(0.0, end) for n in range(copies) for r in speech)
    uri = f"conversations_{minutes:g}min"
    return Audio(uri, waveform), SpeechRegions(uri, tuple(r for r in regions if r.duration > 0))


def diarize_once(minutes: float, directory: Path) -> dict[str, Any]:
    """Diarize a ``minutes``-long recording in this process; the diarizer's RTF and this process's memory."""
    sys.path.insert(0, str(Path(__file__).parent))
    from machine import OtherWork

    from qasr_plugins.stage import DiarizationInput
    from qasr_plugins.stages.embedded_diarization import EmbeddedDiarization

    audio, speech = repeated(*rendered_conversations(directory), minutes)
    diarizer = EmbeddedDiarization()
    diarizer.ensure_loaded()
    before = peak_rss_mib()
    with OtherWork() as other:
        started = time.perf_counter()
        result = diarizer.process([DiarizationInput(audio, speech)])[0]
        wall = time.perf_counter() - started
    return {"minutes": minutes, "speech_s": round(speech.duration), "wall_s": round(wall, 1),
            "rtf": round(wall / audio.duration, 4), "speakers": len(result.turns.speakers),
            "peak_rss_mib": round(peak_rss_mib()), "diarization_rss_mib": round(peak_rss_mib() - before),
            "load_average": other.load_average, "other_cpu_share": round(other.share, 2)}


def diarizer_rows(lengths: list[float]) -> list[dict[str, Any]]:
    """:func:`diarize_once` for each length, each in a fresh process."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="qasr-bench-diar-") as tmp:
        for minutes in lengths:
            found = subprocess.run([sys.executable, __file__, "--diarize-once", str(minutes), "--work", tmp],
                                   capture_output=True, text=True, check=True)
            rows.append(json.loads(found.stdout.strip().splitlines()[-1]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="Length of the long recording.")
    parser.add_argument("--json", action="store_true", help="Print JSON instead of a table.")
    parser.add_argument("--diarizer", action="store_true", help="Measure the diarizer alone on long recordings.")
    parser.add_argument("--lengths", type=float, nargs="+", default=[10.0, 60.0, 180.0],
                        help="Recording lengths (minutes) for --diarizer.")
    parser.add_argument("--diarize-once", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("overrides", nargs="*", help="Pipeline overrides, e.g. stages.asr.cpu_threads=2.")
    args = parser.parse_args()
    if args.diarize_once is not None:
        print(json.dumps(diarize_once(args.diarize_once, args.work)))
        return
    if args.diarizer:
        rows = diarizer_rows(args.lengths)
        if args.json:
            print(json.dumps(rows, indent=2))
            return
        print("minutes | speech s | wall s | diarizer RTF | speakers | peak RSS MiB | diarization MiB | load avg "
              "(start, end) | other CPU share")
        for row in rows:
            print(" | ".join(str(row[k]) for k in ("minutes", "speech_s", "wall_s", "rtf", "speakers", "peak_rss_mib",
                                                   "diarization_rss_mib", "load_average", "other_cpu_share")))
        return

    sample = load_audio(sample_wav())
    repeats = int(np.ceil(args.minutes * 60 / sample.duration))
    long = replace(sample, uri=f"sample_x{repeats}", path=None,
                   waveform=np.tile(sample.waveform, repeats)[: int(args.minutes * 60 * sample.sample_rate)])

    # No stage cache: every run computes (a cached stage would report the time of reading its output).
    pipeline = Pipeline.from_config("offline", args.overrides, formats=["json"], cache=False)
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
