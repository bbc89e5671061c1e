"""Where a Qwen3 stage's time goes: audio encoder, decoder prefill, decoder steps, output head, the rest.

:class:`ModelProfile` times a transformers Qwen3-ASR model's parts with forward hooks (no change to the model):
``encoder`` (the audio tower), ``prefill`` (decoder calls over more than one position: the prompt, or the aligner's
single pass), ``decode`` (one position per row: generation steps) and ``head`` (the vocabulary projection, or the
aligner's timestamp classifier). A stage's time minus these is its pre- and post-processing (features,
tokenization, batching, timestamp repair, …).
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from typing import Any

PARTS = ("encoder", "prefill", "decode", "head")


class ModelProfile:
    """Seconds, calls and positions per part of one model, accumulated while it runs."""

    def __init__(self, model: Any) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()
        self.positions: Counter[str] = Counter()
        inner = model.model
        head = getattr(model, "lm_head", None) or getattr(model, "score", None)
        self._watch(inner.audio_tower, lambda _: "encoder")
        self._watch(inner.language_model, lambda length: "decode" if length == 1 else "prefill")
        if head is not None:
            self._watch(head, lambda _: "head")

    def _watch(self, module: Any, part_of: Any) -> None:
        started: list[float] = []

        def before(_module: Any, _args: Any, _kwargs: Any) -> None:
            started.append(time.perf_counter())

        def after(_module: Any, args: Any, kwargs: Any, _output: Any) -> None:
            tensor = kwargs.get("input_ids", kwargs.get("inputs_embeds"))
            if tensor is None and args:
                tensor = args[0]
            rows, length = (tensor.shape[0], tensor.shape[1]) if getattr(tensor, "dim", lambda: 0)() >= 2 else (0, 0)
            part = part_of(length)
            self.seconds[part] += time.perf_counter() - started.pop()
            self.calls[part] += 1
            self.positions[part] += rows * length

        module.register_forward_pre_hook(before, with_kwargs=True)
        module.register_forward_hook(after, with_kwargs=True)

    def split(self, stage_seconds: float) -> dict[str, Any]:
        """Per part: seconds, share of the stage, calls, positions; ``other`` = the stage's remaining time."""
        parts = {p: {"seconds": round(self.seconds[p], 3), "share": round(self.seconds[p] / stage_seconds, 3),
                     "calls": self.calls[p], "positions": self.positions[p]} for p in PARTS if self.calls[p]}
        other = stage_seconds - sum(self.seconds[p] for p in PARTS)
        parts["other"] = {"seconds": round(other, 3), "share": round(other / stage_seconds, 3)}
        return parts


def stage_model(stage: Any) -> Any:
    """The transformers model a loaded ``qwen3.asr`` or ``qwen3.forced_aligner`` stage runs."""
    backend = getattr(stage, "backend", None)
    return backend.model if backend is not None else stage.model
