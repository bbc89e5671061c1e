"""``quantize: int8`` for the Qwen3 stages: int8 linear layers on the CPU.

Every ``nn.Linear`` of the model — the audio encoder's, the decoder's attention and MLP projections and the
vocabulary projection (``lm_head``; the aligner's timestamp classifier) — is replaced by :class:`Int8Linear`: int8
weights with one scale per output channel, activations quantized on the fly per call
(:mod:`qasr_plugins.qwen3.int8`). The rest of the model (convolutions, norms, attention,
the token embedding) keeps the dtype it was loaded in, so ``dtype: bfloat16`` + ``quantize: int8`` holds bf16
embeddings and int8 linear weights. Layers are replaced one at a time, so quantizing never holds a float32 copy of
the whole model, and the tensors left unquantized are copied out of the checkpoint's memory map, so the file's
pages are released once the float weights are gone.
"""

from __future__ import annotations

from typing import Any, Literal

from qasr_plugins.errors import StageError

Quantize = Literal["int8"]
QUANTIZE_DESCRIPTION = ("int8: every linear layer (encoder, decoder, vocabulary projection) with int8 weights "
                        "(per-channel scales) and dynamically quantized activations; CPU only; the rest of the "
                        "model keeps 'dtype'. null keeps the weights as loaded.")


def check_quantize(quantize: str | None, device: str) -> None:
    """Raise ``ValueError`` (a config error on ``quantize``) when int8 is asked for off the CPU."""
    if quantize is not None and not device.startswith("cpu"):
        raise ValueError(f"quantize: int8 runs on the CPU only, not on {device!r}. Use device: cpu, or remove "
                         "'quantize' and use dtype: bfloat16 on the GPU")


def quantize_int8(model: Any) -> Any:
    """Replace ``model``'s linear layers by int8 ones in place, one layer at a time, and return it.

    Raises:
        StageError: ``S414`` when the model is not on the CPU.
    """
    from torch import nn

    from qasr_plugins.qwen3.int8 import Int8Linear

    if any(p.device.type != "cpu" for p in model.parameters()):
        raise StageError("int8 quantization needs a model on the CPU", where="quantize", code="S414",
                         hint="Load the model with device: cpu, or remove 'quantize'.")
    linears = [name for name, module in model.named_modules() if type(module) is nn.Linear]
    for name in linears:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, Int8Linear(getattr(parent, child)))
    for tensor in (*model.parameters(), *model.buffers()):
        # A checkpoint loaded by memory map keeps the whole file resident while any tensor still points into it;
        # own copies of what was not quantized let the replaced layers' pages go.
        tensor.data = tensor.data.clone()
    return model
