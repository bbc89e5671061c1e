"""Neutral helpers over 1-D sequences (frame masks, frame labels), shared by VAD, diarization and alignment QC.

Nothing here imports torch or anything above the types layer.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, overload

import numpy as np

T = TypeVar("T")


@overload
def runs(values: np.ndarray) -> list[tuple[int, int, Any]]: ...


@overload
def runs(values: Sequence[T]) -> list[tuple[int, int, T]]: ...


def runs(values: Sequence[Any] | np.ndarray) -> list[tuple[int, int, Any]]:
    """The maximal runs of equal consecutive values.

    Args:
        values: A 1-D sequence or NumPy array (a boolean mask, frame labels, …).

    Returns:
        ``(start, stop, value)`` for each run, in order: ``values[start:stop]`` all equal ``value`` and the runs
        tile ``range(len(values))``. Values from an array come back as Python scalars. Empty input gives ``[]``.

    Raises:
        ValueError: When ``values`` is an array with more than one dimension.

    Example:
        >>> runs([True, True, False, True])
        [(0, 2, True), (2, 3, False), (3, 4, True)]
        >>> [(a, b) for a, b, speaking in runs(np.array([0, 1, 1, 0], dtype=bool)) if speaking]
        [(1, 3)]
    """
    if isinstance(values, np.ndarray):
        if values.ndim != 1:
            raise ValueError(f"runs() needs a 1-D array, got shape {values.shape}")
        if len(values) == 0:
            return []
        edges = (np.flatnonzero(values[1:] != values[:-1]) + 1).tolist()
        items = values.tolist()
        return [(a, b, items[a]) for a, b in itertools.pairwise([0, *edges, len(values)])]
    found: list[tuple[int, int, Any]] = []
    start = 0
    for index in range(1, len(values) + 1):
        if index == len(values) or values[index] != values[start]:
            found.append((start, index, values[start]))
            start = index
    return found


__all__ = ["runs"]


def padded_groups(items: Sequence[T], sizes: Sequence[int], fits: Callable[[int, int], bool]) -> list[list[T]]:
    """Consecutive items in groups padded to their largest size, each group as large as ``fits`` allows.

    Args:
        items: What to group, in order (each group keeps it).
        sizes: Each item's size (its length once padded alone).
        fits: ``(rows, widest) -> bool``: whether a group of ``rows`` items padded to ``widest`` is acceptable; an
            item that does not fit even alone gets a group of its own.
    """
    groups: list[list[T]] = []
    widest = 0
    for item, size in zip(items, sizes, strict=True):
        if groups and fits(len(groups[-1]) + 1, max(widest, size)):
            groups[-1].append(item)
            widest = max(widest, size)
        else:
            groups.append([item])
            widest = size
    return groups
