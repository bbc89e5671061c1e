"""``quantize: int8`` for the Qwen3 stages: dynamic int8 quantization of every linear layer on CPU.

Every ``nn.Linear`` of the model — the audio encoder's, the decoder's attention and MLP projections and the
vocabulary projection (``lm_head``; the aligner's timestamp classifier) — is replaced by torch's dynamically
quantized linear (int8 weights, per-tensor scale; activations quantized on the fly per batch, results in float32).
Convolutions, norms and the token embedding stay float32. This is torch's ``torch.ao.quantization.quantize_dynamic``
(deprecated in favour of torchao but working in torch 2.11, CPU only; torchao's int8 paths target GPUs and new
kernels and are not installed here). It needs float32 weights on the CPU.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

from qasr_plugins.errors import StageError

Quantize = Literal["int8"]
QUANTIZE_DESCRIPTION = ("int8: dynamic int8 quantization of every linear layer (encoder, decoder, vocabulary "
                        "projection); CPU and float32 only. null keeps the weights as loaded.")


def check_quantize(quantize: str | None, dtype: str, device: str) -> None:
    """Raise ``ValueError`` (a config error on ``quantize``) when int8 is asked for off the CPU or with bfloat16."""
    if quantize is None:
        return
    if not device.startswith("cpu"):
        raise ValueError(f"quantize: int8 runs on the CPU only, not on {device!r}. Use device: cpu, or remove "
                         "'quantize' and use dtype: bfloat16 on the GPU")
    if dtype != "float32":
        raise ValueError(f"quantize: int8 needs dtype: float32 (got {dtype}); int8 layers compute in float32")


def quantize_int8(model: Any) -> Any:
    """Quantize ``model``'s linear layers to int8 in place and return it.

    Raises:
        StageError: ``S414`` when the model is not float32 on the CPU.
    """
    import torch
    from torch import nn

    weights = [p for p in model.parameters() if p.is_floating_point()]
    if any(p.device.type != "cpu" or p.dtype != torch.float32 for p in weights):
        raise StageError("int8 quantization needs a float32 model on the CPU", where="quantize", code="S414",
                         hint="Load the model with dtype: float32 and device: cpu, or remove 'quantize'.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8, inplace=True)
    return model
