"""Partial outputs: what a stage has finished of an input while its ``process`` call still runs.

A stage may call :func:`report_partial` with the index of an input in its batch and a prefix in time of the output it
will return for that input (the ASR flow reports each recording's transcript as its pieces finish decoding, in time
order). Whoever runs the stage and wants them — a streaming server — listens with :func:`listening`; without a
listener a report costs nothing. Stages need not report anything: their final output is what counts.

    with listening(lambda index, partial: print(index, partial.text)):
        stage.process(batch)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

#: Called with (index of the input in the stage's batch, the partial output).
Listener = Callable[[int, Any], None]

_LISTENER: ContextVar[Listener | None] = ContextVar("qasr_partial_listener", default=None)


def report_partial(index: int, output: Any) -> None:
    """Report a partial output for input ``index`` of the running ``process`` call (a no-op when nobody listens)."""
    listener = _LISTENER.get()
    if listener is not None:
        listener(index, output)


def reporting() -> bool:
    """Whether anybody listens (a stage may skip building partial outputs otherwise)."""
    return _LISTENER.get() is not None


@contextmanager
def listening(listener: Listener | None) -> Iterator[None]:
    """Within the block, :func:`report_partial` calls ``listener`` (``None``: nobody listens)."""
    token = _LISTENER.set(listener)
    try:
        yield
    finally:
        _LISTENER.reset(token)
