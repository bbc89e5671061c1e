"""The one way ``qasr`` commands report a :class:`~qasr_plugins.errors.QasrError`: ``error: <rendered>`` on
stderr, exit status 2 (``--debug`` adds the traceback)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from qasr_plugins.errors import QasrError

EXIT_ERROR = 2

_F = TypeVar("_F", bound=Callable[..., Any])


def report(error: QasrError) -> None:
    """Print ``error: [CODE] where: what. What to do.`` (every error of a :class:`ConfigErrors`) to stderr."""
    typer.echo(f"error: {error.render()}", err=True)


def fail(error: QasrError, *, debug: bool = False) -> typer.Exit:
    """Report ``error`` (with its traceback when ``debug``) and return the ``typer.Exit`` to raise."""
    if debug:
        import traceback

        traceback.print_exception(error)
    report(error)
    return typer.Exit(EXIT_ERROR)


def handle_errors(command: _F) -> _F:
    """Wrap a typer command: a :class:`QasrError` it raises is reported and exits with status 2. A ``debug``
    parameter of the command, when true, adds the traceback. Typer still sees the command's own signature."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except QasrError as exc:
            raise fail(exc, debug=bool(kwargs.get("debug"))) from exc

    return wrapper  # type: ignore[return-value]


__all__ = ["EXIT_ERROR", "fail", "handle_errors", "report"]
