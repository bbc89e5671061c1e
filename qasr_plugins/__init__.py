"""qasr: Qwen3-ASR as a composable speech pipeline.

Import what you need from the submodules; the names below are loaded lazily so that ``import qasr_plugins``
stays light (no torch) until a stage runs.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Audio", "Pipeline", "ResultDocument", "Span", "Transcript", "load_audio"]

_LAZY = {
    "Pipeline": "qasr_plugins.api",
    "ResultDocument": "qasr_plugins.document",
    "Audio": "qasr_plugins.types",
    "Span": "qasr_plugins.types",
    "Transcript": "qasr_plugins.types",
    "load_audio": "qasr_plugins.audio",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'qasr_plugins' has no attribute {name!r}")
