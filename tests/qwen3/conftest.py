"""Tiny Qwen3 checkpoints (native and original layout, ASR and forced aligner), built once per test session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("transformers.models.qwen3_asr", reason="transformers >= 5.13 with qwen3_asr is required")


@pytest.fixture(scope="session", autouse=True)
def qasr_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Converted checkpoints go to a throw-away cache; the hub is never contacted."""
    root = tmp_path_factory.mktemp("qasr-cache")
    saved = {key: os.environ.get(key) for key in ("QASR_CACHE", "HF_HUB_OFFLINE")}
    os.environ["QASR_CACHE"] = str(root)
    os.environ["HF_HUB_OFFLINE"] = "1"
    yield root
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _build(tmp_path_factory: pytest.TempPathFactory, name: str, **options: str) -> Path:
    from qasr_plugins.qwen3.tiny import build_tiny

    return build_tiny(tmp_path_factory.mktemp(name) / "checkpoint", **options)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def tiny_asr(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny Qwen3-ASR in the native (-hf) layout."""
    return _build(tmp_path_factory, "tiny-asr", kind="asr", layout="native")


@pytest.fixture(scope="session")
def tiny_asr_original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same tiny Qwen3-ASR weights in the original (qwen-asr) layout."""
    return _build(tmp_path_factory, "tiny-asr-original", kind="asr", layout="original")


@pytest.fixture(scope="session")
def tiny_aligner(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny Qwen3-ForcedAligner in the native layout."""
    return _build(tmp_path_factory, "tiny-aligner", kind="forced_aligner", layout="native")


@pytest.fixture(scope="session")
def tiny_aligner_original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same tiny Qwen3-ForcedAligner weights in the original layout."""
    return _build(tmp_path_factory, "tiny-aligner-original", kind="forced_aligner", layout="original")
