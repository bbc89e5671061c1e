"""``Int8Linear``: a linear layer with int8 weights for the Qwen3 stages' ``quantize: int8`` (imports torch)."""

from __future__ import annotations

import torch
from torch import nn


class Int8Linear(nn.Module):
    """A linear layer with int8 weights (one scale per output channel) and activations quantized per call.

    Computes with torch's fbgemm dynamic linear (int8 products, float32 accumulation and scales; AVX-512 VNNI where
    the CPU has it); takes and returns the caller's dtype, so it serves float32 and bfloat16 models alike.
    """

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        weight = linear.weight.detach().float()
        scales = (weight.abs().amax(dim=1).clamp(min=1e-12) / 127.0).double()
        zeros = torch.zeros(weight.shape[0], dtype=torch.long)
        qweight = torch.quantize_per_channel(weight, scales, zeros, 0, torch.qint8)
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
