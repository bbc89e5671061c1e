"""Throughput and latency of ``qasr serve`` with and without batching across clients, and its overhead.

An in-process server (uvicorn on a loopback port) serves one pipeline. The baseline is the requests processed one
at a time (one client, no batching). Then for each ``--clients`` count (1, 4 and 16 by default), that many
concurrent httpx clients send ``--requests`` transcription requests of one recording, with batching
(``--batch-window-ms``, ``--max-batch``) and without (batches of one request: concurrency alone). Each run prints throughput (requests/s), its
ratio to the baseline, and latency percentiles (p50, p95, p99). Last, the server's own cost per request: a 0.5 s
silent file sent one at a time to a pipeline whose only stage does nothing, p50 latency.

The load average and other programs' CPU share before and after come from ``benchmarks/machine.py``; ratios are
printed only when the machine was idle enough (other programs under ``--max-other`` of the CPU; ``--force``
prints them anyway).

``--pipeline``: ``offline`` (default), ``qwen3`` (the ``qwen3_asr`` pipeline on a real-size random-weight
Qwen3-ASR-0.6B built from the released configuration; answers end by a scripted end token at
``--tokens-per-second`` × the piece's length, as in ``bench_qwen3_asr.py``; ``--smoke`` builds tiny models), ``fake``
(one ASR stage with a fixed cost per model call and a small cost per recording, like a batched GPU decode: the
server's batching alone), or any pipeline name or YAML path.

    python benchmarks/bench_serve.py --pipeline qwen3 --requests 16
    python benchmarks/bench_serve.py --pipeline offline --clients 1,4 --requests 8 --json
    python benchmarks/bench_serve.py --pipeline fake --requests 16
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import BUSY_SHARE, OtherWork

from qasr_plugins import Pipeline
from qasr_plugins.stage import AsrInput
from qasr_plugins.testing import register_stage
from qasr_plugins.testing.fakes import FakeAsr
from qasr_plugins.types import Transcript

FAKE = """\
description: A fake ASR stage whose model call costs 50 ms plus 5 ms per recording.
stages:
  asr: {name: bench.asr}
graph:
  asr: {kind: asr}
"""


FREE = FAKE.replace("bench.asr", "bench.free_asr").replace(
    "A fake ASR stage whose model call costs 50 ms plus 5 ms per recording.", "An ASR stage that does no work.")


class CostlyAsr(FakeAsr):
    """:class:`FakeAsr` whose every ``process`` call costs a fixed 50 ms plus 5 ms per recording."""

    def process(self, batch: Sequence[AsrInput]) -> list[Transcript]:
        time.sleep(0.05 + 0.005 * len(batch))
        return super().process(batch)


def _sample_wav() -> Path:
    spec = importlib.util.find_spec("pyannote.audio")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("pyannote.audio is not installed; it ships sample.wav (or pass --audio).")
    return Path(next(iter(spec.submodule_search_locations))) / "sample" / "sample.wav"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def _server(pipeline: Pipeline, window_ms: float, max_batch: int, clients: int) -> Iterator[str]:
    import uvicorn

    from qasr_plugins.serve import Limits, create_app

    limits = Limits(batch_window=window_ms / 1000, max_batch=max_batch, max_queue=max(8, clients))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app({"bench": pipeline}, limits=limits), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while True:
            try:
                if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                sys.exit("the server did not become ready")
            time.sleep(0.1)
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=120)


def _silence(seconds: float) -> bytes:
    import io

    import numpy as np
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(round(16_000 * seconds), dtype=np.float32), 16_000, format="WAV")
    return buffer.getvalue()


def _qwen3(workdir: Path, smoke: bool, tokens_per_second: float, batch_size: int | None) -> Pipeline:
    """The ``qwen3_asr`` pipeline on a random-weight Qwen3-ASR-0.6B (tiny with ``smoke``), answers scripted."""
    from bench_qwen3_common import script_decode
    from bench_qwen3_pipeline import _config, build_checkpoint

    size = "tiny" if smoke else "0.6b"
    model = build_checkpoint(workdir / f"qwen3-asr-{size}-random-bfloat16", "asr",
                             None if smoke else _config("Qwen3-ASR-0.6B.config.json"), "bfloat16")
    os.environ.setdefault("QASR_CACHE", str(workdir / "cache"))
    script_decode(tokens_per_second)
    batching = [] if batch_size is None else [f"stages.asr.batch_size={batch_size}"]
    return Pipeline.from_config("qwen3_asr", [f"stages.asr.model={model}", "stages.asr.dtype=bfloat16", *batching,
                                              "stages.asr.repetition_threshold=0"], cache=False)


def _measure(base: str, audio: bytes, clients: int, requests: int) -> dict[str, Any]:
    http = httpx.Client(base_url=base, timeout=600, limits=httpx.Limits(max_connections=clients + 1))

    def one(_: int) -> float:
        started = time.perf_counter()
        response = http.post("/v1/audio/transcriptions", data={"model": "bench"},
                             files={"file": ("audio.wav", audio)})
        response.raise_for_status()
        return time.perf_counter() - started

    one(0)  # warm-up, not counted
    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(clients) as pool:
            latencies = sorted(pool.map(one, range(requests)))
    finally:
        http.close()
    wall = time.perf_counter() - started

    def percentile(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))], 3)

    return {"clients": clients, "requests": requests, "wall_s": round(wall, 3),
            "throughput_rps": round(requests / wall, 3),
            "latency_s": {"p50": percentile(50), "p95": percentile(95), "p99": percentile(99),
                          "mean": round(statistics.fmean(latencies), 3)}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipeline", default="offline", help="offline, qwen3, fake, or a pipeline name or path.")
    parser.add_argument("--audio", type=Path, help="The recording each request sends (default: pyannote's "
                        "sample.wav; 'fake' makes 5 s of silence).")
    parser.add_argument("--clients", default="1,4,16", help="Concurrent client counts, comma-separated.")
    parser.add_argument("--requests", type=int, default=16, help="Requests per run.")
    parser.add_argument("--batch-window-ms", type=float, default=20.0)
    parser.add_argument("--max-batch", type=int, default=16)
    parser.add_argument("--tokens-per-second", type=float, default=3.3, help="qwen3: scripted answer length.")
    parser.add_argument("--batch-size", type=int, help="qwen3: ASR pieces per decoding batch (default: the "
                                                       "stage's own, 8).")
    parser.add_argument("--smoke", action="store_true", help="qwen3: tiny models (does it run? timings mean "
                                                             "nothing).")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/qasr-bench"))
    parser.add_argument("--overhead-requests", type=int, default=50)
    parser.add_argument("--max-other", type=float, default=BUSY_SHARE,
                        help="Refuse ratios when other programs used more than this share of the CPU.")
    parser.add_argument("--force", action="store_true", help="Print the ratios on a busy machine too.")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.clients.split(",") if c.strip()]

    with tempfile.TemporaryDirectory() as scratch, register_stage("asr", "bench.asr", CostlyAsr), \
            register_stage("asr", "bench.free_asr", FakeAsr):
        def inline(name: str, text: str) -> Pipeline:
            config = Path(scratch) / f"{name}.yaml"
            config.write_text(text, encoding="utf-8")
            return Pipeline.from_config(str(config), cache=False)

        if args.pipeline == "fake":
            pipeline = inline("fake", FAKE)
        elif args.pipeline == "qwen3":
            pipeline = _qwen3(args.workdir, args.smoke, args.tokens_per_second, args.batch_size)
        else:
            pipeline = Pipeline.from_config(args.pipeline, cache=False)
        pipeline.load()
        audio = (args.audio.read_bytes() if args.audio is not None else
                 _silence(5.0) if args.pipeline == "fake" else _sample_wav().read_bytes())
        results: dict[str, Any] = {"pipeline": args.pipeline, "smoke": args.smoke, "runs": []}
        with OtherWork() as other:
            with _server(pipeline, 0.0, 1, 1) as base:
                results["sequential"] = _measure(base, audio, 1, args.requests)
            for clients in counts:
                for mode, window, most in (("batched", args.batch_window_ms, args.max_batch), ("unbatched", 0.0, 1)):
                    with _server(pipeline, window, most, clients) as base:
                        results["runs"].append({"mode": mode, **_measure(base, audio, clients, args.requests)})
            with _server(inline("free", FREE), 0.0, 1, 1) as base:
                overhead = _measure(base, _silence(0.5), 1, args.overhead_requests)
        results["overhead_ms"] = round(1000 * overhead["latency_s"]["p50"], 1)
    results["load_average"] = {"before": other.load_average[0], "after": other.load_average[1]}
    results["other_cpu_share"] = round(other.share, 3)
    quiet = other.share <= args.max_other or args.force
    sequential = results["sequential"]["throughput_rps"]
    for run in results["runs"]:
        run["ratio"] = round(run["throughput_rps"] / sequential, 3) if quiet else None
    if not quiet:
        results["note"] = (f"other programs used {other.share:.0%} of the CPU (> {args.max_other:.0%}): no ratio "
                           "is printed (--force prints them).")
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"pipeline {args.pipeline}{' (smoke)' if args.smoke else ''}, {args.requests} requests per run, "
          f"load average {results['load_average']['before']} -> {results['load_average']['after']}, "
          f"other programs' CPU share {results['other_cpu_share']:.0%}")
    table = [("one at a time", results["sequential"], None)] + [
        (f"{run['clients']:>2} clients, {run['mode']}", run, run["ratio"]) for run in results["runs"]]
    for label, run, ratio in table:
        latency = run["latency_s"]
        shown = "baseline" if label == "one at a time" else "-" if ratio is None else f"{ratio:.2f}x"
        print(f"{label:>22}: {run['throughput_rps']:7.3f} req/s ({shown:>8}); latency p50 {latency['p50']} s, "
              f"p95 {latency['p95']} s, p99 {latency['p99']} s")
    print(f"server overhead per request (0.5 s file, a stage that does nothing): p50 {results['overhead_ms']} ms")
    if results.get("note"):
        print(results["note"])
    return 0


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    raise SystemExit(main())
