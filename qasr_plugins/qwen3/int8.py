"""``Int8Linear`` and ``Int8Embedding``: layers with int8 weights for the Qwen3 stages' ``quantize: int8`` (imports
torch)."""

from __future__ import annotations

import torch
from torch import nn

#: Output channels quantized at a time: a float32 copy of only this many rows exists at once (the 151k-row
#: vocabulary projection would need 0.6 GB as a whole).
ROWS_PER_BLOCK = 4096


class Int8Linear(nn.Module):
    """A linear layer with int8 weights (one scale per output channel) and activations quantized per call.

    Computes with torch's fbgemm dynamic linear (int8 products, float32 accumulation and scales; AVX-512 VNNI where
    the CPU has it); takes and returns the caller's dtype, so it serves float32 and bfloat16 models alike.
    """

    def __init__(self, linear: nn.Linear, rows: torch.Tensor | None = None) -> None:
        """Quantize ``linear``'s weight, or take ``rows``: that weight already quantized (a tied embedding's)."""
        super().__init__()
        qweight = quantize_rows(linear.weight.detach()) if rows is None else rows
        bias = None if linear.bias is None else linear.bias.detach().float()
        self._packed = torch.ops.quantized.linear_prepack(qweight, bias)
        self.in_features = linear.in_features
        self.out_features = linear.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # reduce_range: 7-bit activations, as torch's own dynamic linear asks of fbgemm on x86
        out = torch.ops.quantized.linear_dynamic(x.float(), self._packed, True)
        return out if x.dtype == torch.float32 else out.to(x.dtype)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8"


class Int8Embedding(nn.Module):
    """A token embedding with int8 rows (one scale per row), looked up and scaled back to the model's dtype.

    The rows and scales are those :class:`Int8Linear` computes for the same matrix; :meth:`rows` hands them to a
    vocabulary projection tied to this embedding.
    """

    def __init__(self, embedding: nn.Embedding) -> None:
        super().__init__()
        quantized = quantize_rows(embedding.weight.detach())
        self._values = quantized.int_repr()
        self._scales = quantized.q_per_channel_scales()
        self.dtype = embedding.weight.dtype
        self.num_embeddings, self.embedding_dim = embedding.num_embeddings, embedding.embedding_dim
        self.padding_idx = embedding.padding_idx

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return (self._values[ids].float() * self._scales[ids].float().unsqueeze(-1)).to(self.dtype)

    def rows(self) -> torch.Tensor:
        """The int8 rows as a per-row ``qint8`` tensor (sharing this embedding's values)."""
        zeros = torch.zeros(len(self._scales), dtype=torch.long)
        return torch._make_per_channel_quantized_tensor(self._values, self._scales, zeros, 0)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}, int8"


def quantize_rows(weight: torch.Tensor) -> torch.Tensor:
    """``weight`` as a per-output-channel ``qint8`` tensor (scale: the row's largest magnitude / 127, no zero point),
    quantized :data:`ROWS_PER_BLOCK` rows at a time; the same values as quantizing the whole float32 matrix at once."""
    rows = weight.shape[0]
    values = torch.empty(weight.shape, dtype=torch.int8)
    scales = torch.empty(rows, dtype=torch.float64)
    for start in range(0, rows, ROWS_PER_BLOCK):
        block = weight[start:start + ROWS_PER_BLOCK].float()
        block_scales = (block.abs().amax(dim=1).clamp(min=1e-12) / 127.0).double()
        zeros = torch.zeros(len(block), dtype=torch.long)
        values[start:start + len(block)] = torch.quantize_per_channel(block, block_scales, zeros, 0,
                                                                      torch.qint8).int_repr()
        scales[start:start + len(block)] = block_scales
    return torch._make_per_channel_quantized_tensor(values, scales, torch.zeros(rows, dtype=torch.long), 0)
