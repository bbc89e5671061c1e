"""Throughput and latency of ``qasr serve`` with and without batching across clients.

An in-process server (uvicorn on a loopback port) serves one pipeline; ``--clients`` concurrent httpx clients send
``--requests`` transcription requests of one recording, first with batching (``--batch-window-ms``,
``--max-batch``), then with a window of 0 (each request alone). It prints each mode's throughput (requests/s) and
latency percentiles (p50, p90, p99), the load average and other programs' CPU share before and after (from
``benchmarks/machine.py``), and the batched/unbatched throughput ratio — only when the machine was idle enough
(1-minute load average at most ``--max-load``, 1.5 by default; ``--force`` prints it anyway).

``--pipeline fake`` serves a fast in-process stand-in (one ASR stage with a fixed cost per model call and a small
cost per recording, like a batched GPU decode) instead of a real pipeline, to check the server's batching alone.

    python benchmarks/bench_serve.py --pipeline fake --requests 16
    python benchmarks/bench_serve.py --pipeline offline --clients 4 --requests 32 --json
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
from machine import OtherWork

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


def _measure(base: str, audio: bytes, clients: int, requests: int) -> dict[str, Any]:
    def one(_: int) -> float:
        started = time.perf_counter()
        response = httpx.post(f"{base}/v1/audio/transcriptions", data={"model": "bench"},
                              files={"file": ("audio.wav", audio)}, timeout=600)
        response.raise_for_status()
        return time.perf_counter() - started

    one(0)  # warm-up, not counted
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        latencies = sorted(pool.map(one, range(requests)))
    wall = time.perf_counter() - started

    def percentile(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))], 3)

    return {"requests": requests, "wall_s": round(wall, 3), "throughput_rps": round(requests / wall, 3),
            "latency_s": {"p50": percentile(50), "p90": percentile(90), "p99": percentile(99),
                          "mean": round(statistics.fmean(latencies), 3)}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipeline", default="offline", help="A pipeline name or YAML path, or 'fake'.")
    parser.add_argument("--audio", type=Path, help="The recording each request sends (default: pyannote's "
                        "sample.wav; 'fake' makes 5 s of silence).")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=32)
    parser.add_argument("--batch-window-ms", type=float, default=20.0)
    parser.add_argument("--max-batch", type=int, default=8)
    parser.add_argument("--max-load", type=float, default=1.5, help="Refuse a ratio above this 1-minute load.")
    parser.add_argument("--force", action="store_true", help="Print the ratio on a busy machine too.")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as scratch, register_stage("asr", "bench.asr", CostlyAsr):
        if args.pipeline == "fake":
            config = Path(scratch) / "fake.yaml"
            config.write_text(FAKE, encoding="utf-8")
            pipeline = Pipeline.from_config(str(config))
        else:
            pipeline = Pipeline.from_config(args.pipeline)
        if args.audio is not None:
            audio = args.audio.read_bytes()
        elif args.pipeline == "fake":
            import io

            import numpy as np
            import soundfile as sf

            buffer = io.BytesIO()
            sf.write(buffer, np.zeros(16_000 * 5, dtype=np.float32), 16_000, format="WAV")
            audio = buffer.getvalue()
        else:
            audio = _sample_wav().read_bytes()
        results: dict[str, Any] = {"pipeline": args.pipeline, "clients": args.clients}
        with OtherWork() as other:
            for mode, window in (("batched", args.batch_window_ms), ("unbatched", 0.0)):
                with _server(pipeline, window, args.max_batch, args.clients) as base:
                    results[mode] = _measure(base, audio, args.clients, args.requests)
    results["load_average"] = {"before": other.load_average[0], "after": other.load_average[1]}
    results["other_cpu_share"] = round(other.share, 3)
    busy = max(other.load_average) > args.max_load
    if busy and not args.force:
        results["ratio"] = None
        results["note"] = (f"1-minute load average reached {max(other.load_average):g} (> {args.max_load:g}): the "
                           "machine is busy, so no throughput ratio is printed (--force prints it).")
    else:
        results["ratio"] = round(results["batched"]["throughput_rps"] / results["unbatched"]["throughput_rps"], 3)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"pipeline {args.pipeline}, {args.clients} clients, {args.requests} requests per mode, "
          f"load average {results['load_average']['before']} -> {results['load_average']['after']}, "
          f"other programs' CPU share {results['other_cpu_share']:.0%}")
    for mode in ("batched", "unbatched"):
        r = results[mode]
        print(f"{mode:>9}: {r['throughput_rps']:.2f} req/s; latency p50 {r['latency_s']['p50']} s, "
              f"p90 {r['latency_s']['p90']} s, p99 {r['latency_s']['p99']} s")
    print(results.get("note") or f"batched / unbatched throughput: {results['ratio']:.2f}x")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    raise SystemExit(main())
