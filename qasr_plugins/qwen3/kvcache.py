"""A key/value cache that writes each decode step into spare room instead of concatenating (imports torch).

transformers' ``DynamicLayer`` appends a step's keys and values with ``torch.cat``, which copies the layer's whole
cache every step: 37 % of an int8 decode step on the CPU (8 rows, ≈ 130 cached positions). :class:`GrowingLayer`
keeps each layer's keys and values in a buffer with room for :data:`ROOM` more positions, writes new positions in
place and hands the model views of the filled part; the buffer is reallocated only when full. The values the model
sees are the same.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers.cache_utils import Cache, DynamicLayer

#: Spare positions allocated past the filled part each time a layer's buffer grows.
ROOM = 64


class GrowingLayer(DynamicLayer):
    """A full-attention cache layer with spare room (see the module docstring)."""

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        super().lazy_initialization(key_states, value_states)
        self._buffers: tuple[torch.Tensor, torch.Tensor] | None = None
        self._length = 0

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any,
               **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        end = self._length + key_states.shape[-2]
        if self._buffers is None or end > self._buffers[0].shape[-2]:
            self._grow(key_states, value_states, end + ROOM)
        assert self._buffers is not None
        for buffer, states in zip(self._buffers, (key_states, value_states), strict=True):
            buffer[:, :, self._length:end] = states
        self._length = end
        self._expose()
        return self.keys, self.values

    def _grow(self, key_states: torch.Tensor, value_states: torch.Tensor, capacity: int) -> None:
        buffers = tuple(states.new_empty((*states.shape[:2], capacity, states.shape[-1]))
                        for states in (key_states, value_states))
        if self._buffers is not None:
            for new, old in zip(buffers, self._buffers, strict=True):
                new[:, :, :self._length] = old[:, :, :self._length]
        self._buffers = buffers  # type: ignore[assignment]

    def _expose(self) -> None:
        assert self._buffers is not None
        self.keys, self.values = (buffer[:, :, :self._length] for buffer in self._buffers)

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        if self._buffers is not None and self._length:
            self._buffers = tuple(buffer[indices] for buffer in self._buffers)  # type: ignore[assignment]
            self._expose()

    def batch_repeat_interleave(self, repeats: int) -> None:
        if self._buffers is not None and self._length:
            self._buffers = tuple(buffer.repeat_interleave(repeats, dim=0)  # type: ignore[assignment]
                                  for buffer in self._buffers)
            self._expose()

    def crop(self, tokens_to_remove: int) -> None:
        if tokens_to_remove > 0:
            raise ValueError("crop takes the negative number of tokens to remove")
        if self._buffers is not None and tokens_to_remove:
            self._length = max(0, self._length + tokens_to_remove)
            self._expose()

    def reset(self) -> None:
        self._buffers, self._length = None, 0
        super().reset()


def growing_cache(model: Any) -> Cache | None:
    """A cache of :class:`GrowingLayer` for ``model``'s language model, or ``None`` (let the model make its own) when
    some of its layers are not full attention (sliding windows keep transformers' own layers)."""
    config = model.config.get_text_config(decoder=True)
    if any(kind != "full_attention" for kind in getattr(config, "layer_types", None) or ()):
        return None
    return Cache(layer_class_to_replicate=GrowingLayer)
