"""The NeMo bridge, both directions.

NeMo models as qasr stages: :mod:`.asr` (``nemo.asr``), :mod:`.vad` (``nemo.vad``), :mod:`.diarization`
(``nemo.diarization``), :mod:`.clustering` (``nemo.clustering``, speaker embeddings), loaded by :mod:`.loading` and
post-processed by NeMo's frame rules (:mod:`.frames`).
qasr as NeMo objects and files: :class:`Qwen3ASRModel` (Qwen3-ASR as a NeMo ``ASRModel``, in :mod:`.qwen3_model`),
the ``manifest``, ``ctm`` and ``vad_manifest`` writers, and :mod:`.seams` (qasr results into NeMo's diarization + ASR
joining). :mod:`.tiny` builds tiny random-weight ``.nemo`` models for tests.

``Qwen3ASRModel`` is imported on first use (it imports NeMo); ``.nemo`` files name it as
``qasr_plugins.adapters.nemo.Qwen3ASRModel``.
"""

from __future__ import annotations

from typing import Any

_FACADE = ("Qwen3ASRModel", "nemo_timestamps", "transcript_text")


def __getattr__(name: str) -> Any:
    if name in _FACADE:
        from qasr_plugins.adapters.nemo import qwen3_model

        return getattr(qwen3_model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = list(_FACADE)
