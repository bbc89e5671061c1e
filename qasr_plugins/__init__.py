"""qasr: Qwen3-ASR as a composable speech pipeline.

Import what you need from the submodules; the names below are loaded lazily so that ``import qasr_plugins``
stays light (no torch) until a stage runs. Importing the package also imports ``ctranslate2`` when it is installed
and torch is not imported yet, so that the two keep their own OpenMP runtimes (:mod:`qasr_plugins.openmp`).
"""

from __future__ import annotations

from typing import Any

from qasr_plugins.openmp import import_ctranslate2_first

import_ctranslate2_first()

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
