"""Hostile checkpoints for the trust tests: pickles that run code when unpickled.

:class:`Planted` stands in for one tensor of a state dict. Unpickling it writes a marker file and then yields the
tensor, so a checkpoint carrying it still loads (when the user opts in) and the test can tell that its code ran.
torch's weights-only loader refuses it (``GLOBAL eval``).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path
from typing import Any


class _Evaluated:
    """Pickles as ``eval(code)``: the callable that :class:`Planted` applies."""

    def __init__(self, code: str) -> None:
        self.code = code

    def __call__(self, *args: Any) -> Any:  # pickle requires the callable of a reduce to be callable
        return eval(self.code)(*args)

    def __reduce__(self) -> tuple[Any, ...]:
        return eval, (self.code,)


class Planted:
    """Unpickles as ``value`` after writing ``marker``."""

    def __init__(self, marker: Path, value: Any) -> None:
        self.marker = marker
        self.value = value

    def __reduce__(self) -> tuple[Any, ...]:
        code = f"lambda value: (__import__('pathlib').Path({str(self.marker)!r}).write_text('ran'), value)[1]"
        return _Evaluated(code), (self.value,)


def plant(state_dict: MutableMapping[str, Any], marker: Path) -> MutableMapping[str, Any]:
    """``state_dict`` with its first tensor wrapped in :class:`Planted`."""
    key = next(iter(state_dict))
    state_dict[key] = Planted(marker, state_dict[key])
    return state_dict


__all__ = ["Planted", "plant"]
