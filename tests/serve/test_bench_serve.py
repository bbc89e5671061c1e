"""``benchmarks/bench_serve.py`` runs and reports what it promises (its numbers are measured elsewhere, idle)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_serve_reports_each_client_count_the_baseline_and_the_overhead() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_serve.py"), "--pipeline", "fake",
                             "--requests", "3", "--clients", "1,2", "--overhead-requests", "3", "--force", "--json"],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["sequential"]["clients"] == 1 and report["sequential"]["throughput_rps"] > 0
    assert [(r["clients"], r["mode"]) for r in report["runs"]] == [
        (1, "batched"), (1, "unbatched"), (2, "batched"), (2, "unbatched")]
    for run in report["runs"]:
        assert run["ratio"] > 0 and run["latency_s"]["p50"] <= run["latency_s"]["p95"] <= run["latency_s"]["p99"]
    assert 0 < report["overhead_ms"] < 5000
    assert set(report["load_average"]) == {"before", "after"} and 0 <= report["other_cpu_share"]
