"""The pyannote bridge, both directions.

pyannote as qasr: the ``pyannote.diarization`` stage (:mod:`.diarization`). qasr as pyannote: conversions between
qasr's time containers and ``pyannote.core`` (:mod:`.convert`) and the qasr graph as a ``pyannote.audio.Pipeline``
(:mod:`.pipeline`, a tunable one). :mod:`.vad` is the ``pyannote.vad`` stage. :mod:`.tiny` builds a tiny
random-weight pipeline directory for tests.

``as_pyannote_pipeline``, ``QasrPipeline`` and ``packaged_config`` are imported on first use: they need
pyannote.audio (and torch), which the conversions do not.
"""

from __future__ import annotations

from typing import Any

from qasr_plugins.adapters.pyannote.convert import (
    from_annotation,
    from_diarize_output,
    from_timeline,
    to_annotation,
    to_diarize_output,
    to_segment,
    to_timeline,
)

_PIPELINE_EXPORTS = ("QasrPipeline", "as_pyannote_pipeline", "packaged_config")


def __getattr__(name: str) -> Any:
    if name in _PIPELINE_EXPORTS:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.pipeline"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["QasrPipeline", "as_pyannote_pipeline", "from_annotation", "from_diarize_output", "from_timeline",
           "packaged_config", "to_annotation", "to_diarize_output", "to_segment", "to_timeline"]
