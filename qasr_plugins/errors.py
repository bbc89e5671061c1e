"""Error hierarchy with stable codes.

Every error names *where* (a file, an input or a config path), *what* is wrong and *what to do*.
Codes are stable and documented in ``docs/errors.md``; tests and users may match on them.

Families:
    ``C1xx`` configuration and pipeline graph, ``P2xx`` plugins and the registry,
    ``I3xx`` input audio and manifests, ``S4xx`` stage execution and models, ``O5xx`` outputs.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class QasrError(Exception):
    """Base class of every error qasr raises on purpose.

    Attributes:
        code: Stable error code such as ``"C101"``.
        where: The file, input or config path the error is about (may be empty).
        hint: What the user can do about it (may be empty).
    """

    code: str = "Q000"

    def __init__(self, message: str, *, where: str = "", hint: str = "", code: str | None = None) -> None:
        if code is not None:
            self.code = code
        self.message = message
        self.where = where
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        """The one-line form used in logs, summaries and error files."""
        location = f"{self.where}: " if self.where else ""
        hint = f" {self.hint}" if self.hint else ""
        return f"[{self.code}] {location}{self.message}{hint}"

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "type": type(self).__name__, "where": self.where,
                "message": self.message, "hint": self.hint}


class ConfigError(QasrError):
    """A pipeline or stage configuration is invalid (``C1xx``)."""

    code = "C100"


class PluginError(QasrError):
    """A registered stage cannot be found or loaded (``P2xx``)."""

    code = "P200"


class InputError(QasrError):
    """An input file, array or manifest cannot be used (``I3xx``)."""

    code = "I300"


class StageError(QasrError):
    """A stage failed while processing (``S4xx``)."""

    code = "S400"


class OutputError(QasrError):
    """An output could not be written (``O5xx``)."""

    code = "O500"


class ConfigErrors(ConfigError):
    """Several configuration errors found in one validation pass."""

    code = "C100"

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = errors
        super().__init__(
            f"{len(errors)} configuration error(s):\n" + "\n".join("  " + e.render() for e in errors),
            code=errors[0].code if len(errors) == 1 else "C100",
        )

    def render(self) -> str:
        return self.message

    @property
    def codes(self) -> list[str]:
        return [e.code for e in self.errors]


def closest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The candidates most similar to ``name``, best first."""
    return difflib.get_close_matches(name, list(candidates), n=n, cutoff=0.5)


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """A hint naming the closest candidates, or listing what is available."""
    pool = sorted(set(candidates))
    matches = closest(name, pool)
    if matches:
        return "Did you mean " + " or ".join(repr(m) for m in matches) + "?"
    return "Available: " + (", ".join(pool) if pool else "none") + "."
