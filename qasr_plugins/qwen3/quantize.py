"""``quantize: int8`` for the Qwen3 stages: int8 weights on the CPU.

Every ``nn.Linear`` of the model — the audio encoder's, the decoder's attention and MLP projections and the
vocabulary projection (``lm_head``; the aligner's timestamp classifier) — is replaced by :class:`Int8Linear`: int8
weights with one scale per output channel, activations quantized on the fly per call; the token embedding by
:class:`Int8Embedding`: int8 rows with one scale each (:mod:`qasr_plugins.qwen3.int8`). The rest of the model
(convolutions, norms, attention) keeps the dtype it was loaded in. Layers are replaced one at a time, so quantizing
never holds a float32 copy of the whole model; each replaced layer's pages of a memory-mapped checkpoint are given
back as it goes, and the tensors left unquantized are copied out of the map, so the file's pages are all released at
the end.
"""

from __future__ import annotations

import ctypes
import mmap
from pathlib import Path
from typing import Any, Literal

from qasr_plugins.errors import StageError
from qasr_plugins.memory import libc, return_freed_memory

#: ``madvise`` advice: drop the pages; a private file mapping re-reads them from the file if touched again.
_MADV_DONTNEED = 4

Quantize = Literal["int8"]
QUANTIZE_DESCRIPTION = ("int8: every linear layer (encoder, decoder, vocabulary projection) with int8 weights "
                        "(per-channel scales) and dynamically quantized activations, and int8 token embeddings; "
                        "CPU only; the rest of the model keeps 'dtype'. null keeps the weights as loaded.")


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

    from qasr_plugins.qwen3.int8 import Int8Embedding, Int8Linear

    if any(p.device.type != "cpu" for p in model.parameters()):
        raise StageError("int8 quantization needs a model on the CPU", where="quantize", code="S414",
                         hint="Load the model with device: cpu, or remove 'quantize'.")
    # Embeddings first: they are the largest matrices, best quantized while little else is held; a vocabulary
    # projection tied to one then takes its int8 rows instead of reading and quantizing the weight again.
    layers = sorted(((name, module) for name, module in model.named_modules()
                     if type(module) in (nn.Linear, nn.Embedding)), key=lambda layer: type(layer[1]) is nn.Linear)
    embeddings: dict[tuple[int, tuple[int, ...]], Int8Embedding] = {}
    mapped = _checkpoint_mappings()
    for name, layer in layers:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        weight = (layer.weight.data_ptr(), tuple(layer.weight.shape))
        if isinstance(layer, nn.Embedding):
            replacement: nn.Module = embeddings.setdefault(weight, Int8Embedding(layer))
        else:
            tied = embeddings.get(weight)
            replacement = Int8Linear(layer, rows=None if tied is None else tied.rows())
        setattr(parent, child, replacement)
        _drop_pages(layer.weight, mapped)
    for tensor in (*model.parameters(), *model.buffers()):
        # A checkpoint loaded by memory map keeps the whole file resident while any tensor still points into it;
        # own copies of what was not quantized let the replaced layers' pages go.
        tensor.data = tensor.data.clone()
    return_freed_memory()
    return model


def _checkpoint_mappings() -> list[tuple[int, int]]:
    """Address ranges of this process's private memory maps of ``*.safetensors`` files (Linux; else none)."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return []
    ranges = []
    for line in maps.splitlines():
        fields = line.split()
        if len(fields) >= 6 and fields[-1].endswith(".safetensors") and fields[1].endswith("p"):
            start, end = (int(address, 16) for address in fields[0].split("-"))
            ranges.append((start, end))
    return ranges


def _drop_pages(weight: Any, mapped: list[tuple[int, int]]) -> None:
    """Return the resident pages of a replaced weight that lies in a checkpoint's private file map.

    Only whole pages inside the weight are dropped; the map is of an unmodified file, so a page touched again (a
    tied weight) is read back from the file, unchanged. Anything else (memory not mapped from a checkpoint) is
    left alone.
    """
    start = weight.data_ptr()
    end = start + weight.numel() * weight.element_size()
    if not any(low <= start and end <= high for low, high in mapped):
        return
    madvise = getattr(libc(), "madvise", None)
    first, last = -(-start // mmap.PAGESIZE) * mmap.PAGESIZE, end // mmap.PAGESIZE * mmap.PAGESIZE
    if madvise is not None and last > first:
        madvise(ctypes.c_void_p(first), ctypes.c_size_t(last - first), _MADV_DONTNEED)

