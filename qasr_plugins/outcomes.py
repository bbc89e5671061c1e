"""What a run did: each input's outcome, the run's plan and summary, and the interruption that stopped it."""

from __future__ import annotations

import signal
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from qasr_plugins.inputs import InputItem


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one input.

    Attributes:
        redone: Why earlier outputs of this input were not trusted (a :mod:`~qasr_plugins.completion` reason such
            as ``"pipeline changed"``), or empty.
        warnings: What looked wrong without failing the input (a WAV header declaring too little audio, an error
            file that could not be written).
    """

    uri: str
    source: str
    status: str  # "done", "skipped" or "failed"
    outputs: tuple[str, ...] = ()
    error: dict[str, str] | None = None
    wall_time: float = 0.0
    redone: str = ""
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"uri": self.uri, "source": self.source, "status": self.status, "outputs": list(self.outputs),
                "error": self.error, "wall_time": self.wall_time, "redone": self.redone or None,
                "warnings": list(self.warnings)}


@dataclass(frozen=True)
class RunSummary:
    """What a run did.

    Attributes:
        outcomes: One per input reached, in input order.
        interrupted: The signal that stopped the run early (``"SIGINT"``, ``"SIGTERM"``), or empty.
        not_started: Inputs the run did not reach (interrupted runs).
        errors: Run-level errors (a joined output or the summary file could not be written), as coded dicts.
    """

    outcomes: tuple[FileOutcome, ...] = field(default_factory=tuple)
    interrupted: str = ""
    not_started: int = 0
    errors: tuple[dict[str, str], ...] = ()

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def failed(self) -> bool:
        return self.count("failed") > 0 or bool(self.errors)

    def line(self) -> str:
        """``3 done, 1 skipped, 0 failed``, then ``; redone: 2 pipeline changed`` and ``; interrupted by SIGTERM,
        5 not started`` when they apply."""
        reasons: dict[str, int] = {}
        for outcome in self.outcomes:
            if outcome.redone:
                reasons[outcome.redone] = reasons.get(outcome.redone, 0) + 1
        text = f"{self.count('done')} done, {self.count('skipped')} skipped, {self.count('failed')} failed"
        if reasons:
            text += "; redone: " + ", ".join(f"{count} {reason}" for reason, count in reasons.items())
        if self.interrupted:
            text += f"; interrupted by {self.interrupted}, {self.not_started} not started"
        return text


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by SIGINT or SIGTERM after writing its summary; ``exit_code`` is 128 + the signal number."""

    def __init__(self, summary: RunSummary) -> None:
        self.summary = summary
        self.exit_code = 128 + signal.Signals[summary.interrupted].value
        super().__init__(f"interrupted: {summary.line()}")


@dataclass(frozen=True)
class Plan:
    """A run's work: finished inputs to skip, inputs to process, and why some earlier outputs are redone.

    Attributes:
        skipped: Outcomes of the inputs whose outputs are complete, by uri.
        pending: The inputs to process, in input order.
        redo: Uri → why its earlier outputs are not trusted (see :func:`qasr_plugins.completion.status`).
    """

    skipped: Mapping[str, FileOutcome]
    pending: tuple[InputItem, ...]
    redo: Mapping[str, str]

    def settle(self, outcome: FileOutcome) -> FileOutcome:
        """``outcome`` with the reason its input was redone, if it was."""
        return replace(outcome, redone=self.redo.get(outcome.uri, ""))
