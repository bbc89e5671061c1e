"""The benchmarks' default model configurations ship inside the repository and describe the released models."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "benchmarks" / "configs"


def _default_config(script: str) -> Path:
    """The ``DEFAULT_CONFIG`` a benchmark script computes, evaluated from its source without running it."""
    tree = ast.parse((ROOT / "benchmarks" / script).read_text())
    [node] = [n for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "DEFAULT_CONFIG"]
    names = {"ROOT": ROOT, "REPO": ROOT}
    return eval(compile(ast.Expression(node.value), script, "eval"), {"__builtins__": {}}, names)


@pytest.mark.parametrize(("script", "kind"), [("bench_qwen3_asr.py", "asr"),
                                              ("bench_qwen3_aligner.py", "forced_aligner")])
def test_benchmark_default_config_is_in_the_repository(script: str, kind: str) -> None:
    path = _default_config(script)
    assert path.is_file() and CONFIGS in path.parents
    pytest.importorskip("transformers.models.qwen3_asr", reason="needs transformers with qwen3_asr")
    from transformers import Qwen3ASRConfig

    from qasr_plugins.qwen3.convert import native_config

    config = Qwen3ASRConfig(**native_config(json.loads(path.read_text()), kind))
    assert config.text_config.hidden_size == 1024 and config.text_config.num_hidden_layers == 28
