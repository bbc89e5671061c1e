"""What a stage imports beyond qasr's core, and the extra that installs it (``Stage.libraries``).

Checked without importing anything (:meth:`Libraries.missing`), so ``qasr validate`` can warn before a run that a
node's library is missing; a stage whose load still fails on a missing module raises ``S410`` naming the extra.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass

from qasr_plugins.errors import StageError


@dataclass(frozen=True)
class Libraries:
    """What a stage imports beyond qasr's core, and the extra of its distribution that installs it.

    Attributes:
        extra: The extra, e.g. ``offline`` (``pip install 'qasr-plugins[offline]'``).
        modules: The modules the stage imports when it loads (e.g. ``silero_vad``, ``pyannote.audio``).
        distribution: The distribution whose extra it is.
    """

    extra: str
    modules: tuple[str, ...]
    distribution: str = "qasr-plugins"

    @property
    def install(self) -> str:
        return f"pip install '{self.distribution}[{self.extra}]'"

    def missing(self) -> tuple[str, ...]:
        """The modules not installed, found with :func:`importlib.util.find_spec` (a dotted name imports its
        parent packages only)."""

        def absent(module: str) -> bool:
            try:
                return importlib.util.find_spec(module) is None
            except (ImportError, ValueError):  # a parent package is missing or broken
                return True

        return tuple(m for m in self.modules if absent(m))


def missing_library(owner: str, libraries: Libraries | None, modules: Sequence[str]) -> StageError:
    """``S410``: ``owner`` (a stage) needs ``modules``, which are not installed; the hint names the extra that
    installs them when the stage declares its :class:`Libraries`."""
    hint = (f"Install it with {libraries.install}." if libraries is not None
            else "Install the package that provides it (see the stage's documentation).")
    return StageError(f"{owner} needs {', '.join(modules)}, which is not installed.", code="S410", hint=hint)
