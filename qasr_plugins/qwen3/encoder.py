"""The Qwen3 audio encoder run on a bounded number of chunks per call (imports torch).

transformers' ``Qwen3ASREncoder`` cuts each row's log-mel frames into chunks of ``2 * n_window`` frames (1 s) and runs
its three convolutions on every chunk of the padded batch at once: each chunk holds about 3 MB (bf16) of
activations after the first convolution, so eight 30 s pieces need 1.5 GB at once, and the padding chunks of
shorter rows are convolved too. Attention afterwards stays inside windows of ``n_window_infer`` frames.

:func:`bound_audio_encoder` makes the encoder cut every row at multiples of :data:`CHUNKS_PER_CALL` chunks (whole
attention windows) and encode those spans a few at a time, concatenating the outputs in order. Windows, positions
and convolutions see exactly what they saw before, so the outputs are the same; memory stays bounded whatever the
batch, and padding is only what a call's spans need.
"""

from __future__ import annotations

import types
from typing import Any

import torch

from qasr_plugins.sequences import padded_groups

#: Most 1 s chunks one encoder call convolves (bf16: about 100 MB of activations per 32 chunks at the widest layer).
CHUNKS_PER_CALL = 32


def bound_audio_encoder(model: Any) -> Any:
    """Make ``model``'s audio encoder (``model.model.audio_tower``) encode in bounded calls; return ``model``.

    The encoder's forward is replaced on the instance only: its parameters, names and state dict stay as they are.
    """
    encoder = model.model.audio_tower
    encoder.forward = types.MethodType(_bounded_forward, encoder)
    return model


def _bounded_forward(encoder: Any, input_features: torch.Tensor, input_features_mask: torch.Tensor,
                     **kwargs: Any) -> Any:
    chunk = encoder.n_window * 2
    window = encoder.n_window_infer
    span = max(window, CHUNKS_PER_CALL * chunk // window * window)
    lengths = input_features_mask.sum(-1).tolist()
    spans = [(row, start, min(start + span, length))
             for row, length in enumerate(lengths) for start in range(0, max(length, 1), span)]
    calls = padded_groups(spans, [_chunks(start, end, chunk) for _, start, end in spans],
                          lambda rows, widest: rows * widest <= CHUNKS_PER_CALL)
    forward = type(encoder).forward
    if len(calls) == 1 and len(spans) == len(lengths):
        return forward(encoder, input_features, input_features_mask, **kwargs)
    outputs = [forward(encoder, *_stack(input_features, call, chunk), **kwargs) for call in calls]
    first = outputs[0]
    first.last_hidden_state = torch.cat([out.last_hidden_state for out in outputs])
    return first


def _stack(features: torch.Tensor, call: list[tuple[int, int, int]], chunk: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The call's spans as a batch of features and its frame mask. Each span keeps the frames of its last chunk that
    lie past its end (the processor's padding, which the convolutions see next to the last frames); whole chunks
    added to reach the call's width are zeros, masked out."""
    width = max(_chunks(start, end, chunk) for _, start, end in call) * chunk
    batch = features.new_zeros((len(call), features.shape[1], width))
    mask = torch.zeros((len(call), width), dtype=torch.long, device=features.device)
    for index, (row, start, end) in enumerate(call):
        kept = _chunks(start, end, chunk) * chunk
        batch[index, :, :kept] = features[row, :, start:start + kept]
        mask[index, :end - start] = 1
    return batch, mask


def _chunks(start: int, end: int, chunk: int) -> int:
    """Chunks a span of frames occupies (at least one)."""
    return -(-(end - start) // chunk) or 1
