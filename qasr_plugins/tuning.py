"""Tunable settings: the range a tuner may search, declared next to the setting in a stage's config schema.

    from pydantic import Field
    from qasr_plugins.stage import StageConfig
    from qasr_plugins.tuning import integer, uniform

    class MyVadConfig(StageConfig):
        threshold: float = Field(0.5, gt=0, lt=1, json_schema_extra=uniform(0.2, 0.9))
        min_frames: int = Field(3, ge=1, json_schema_extra=integer(1, 10))

Each helper returns plain data for pydantic's ``json_schema_extra`` (``{"tune": {"uniform": [0.2, 0.9]}}``), so
the declaration shows in ``MyVadConfig.model_json_schema()`` and a third-party stage may equally write the dict by
hand. :meth:`StageConfig.tunable <qasr_plugins.stage.StageConfig.tunable>` reads them back as :class:`Tunable`.
The core knows no tuner: ``qasr_plugins.adapters.pyannote`` turns each one into a ``pyannote.pipeline``
hyper-parameter (``Uniform``, ``LogUniform``, ``Integer``, ``Categorical``). Declare ranges only on settings whose
default is a value (not ``None``), within the setting's own bounds: tuned values go through the usual validation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

#: The key under a field's ``json_schema_extra`` that holds its tunable range.
TUNE_KEY = "tune"
Distribution = Literal["uniform", "log_uniform", "integer", "categorical"]
DISTRIBUTIONS: tuple[Distribution, ...] = ("uniform", "log_uniform", "integer", "categorical")


@dataclass(frozen=True)
class Tunable:
    """One setting's search space.

    Attributes:
        setting: The setting's name in its config schema.
        distribution: ``uniform`` or ``log_uniform`` (floats in ``[low, high)``), ``integer`` (``[low, high]``) or
            ``categorical``.
        values: ``(low, high)`` for the ranges, the choices for ``categorical``.
    """

    setting: str
    distribution: Distribution
    values: tuple[Any, ...]


def uniform(low: float, high: float) -> dict[str, Any]:
    """A float drawn uniformly from ``[low, high)``."""
    return _declare("uniform", (float(low), float(high)))


def log_uniform(low: float, high: float) -> dict[str, Any]:
    """A positive float drawn uniformly in the log domain from ``[low, high)``."""
    if low <= 0:
        raise ValueError(f"log_uniform needs low > 0, got {low}")
    return _declare("log_uniform", (float(low), float(high)))


def integer(low: int, high: int) -> dict[str, Any]:
    """An integer drawn from ``[low, high]``."""
    return _declare("integer", (int(low), int(high)))


def categorical(*choices: Any) -> dict[str, Any]:
    """One of ``choices`` (JSON scalars: strings, numbers, booleans)."""
    if not choices:
        raise ValueError("categorical needs at least one choice")
    return {TUNE_KEY: {"categorical": list(choices)}}


def _declare(distribution: Distribution, bounds: tuple[float, float]) -> dict[str, Any]:
    low, high = bounds
    if not low < high:
        raise ValueError(f"{distribution} needs low < high, got [{low}, {high}]")
    return {TUNE_KEY: {distribution: [low, high]}}


def parse_tunable(setting: str, extra: Any) -> Tunable | None:
    """The :class:`Tunable` a field's ``json_schema_extra`` declares, if any.

    Raises:
        ValueError: For a malformed declaration (unknown distribution, wrong number of values).
    """
    if not isinstance(extra, Mapping) or TUNE_KEY not in extra:
        return None
    declared = extra[TUNE_KEY]
    if not isinstance(declared, Mapping) or len(declared) != 1:
        raise ValueError(f"setting {setting!r}: 'tune' must map one of {', '.join(DISTRIBUTIONS)} to its values")
    ((distribution, values),) = declared.items()
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"setting {setting!r}: unknown distribution {distribution!r}; use one of "
                         f"{', '.join(DISTRIBUTIONS)}")
    values = tuple(values)
    if distribution != "categorical" and (len(values) != 2 or not values[0] < values[1]):
        raise ValueError(f"setting {setting!r}: {distribution} takes [low, high] with low < high, got {list(values)}")
    if not values:
        raise ValueError(f"setting {setting!r}: categorical needs at least one choice")
    return Tunable(setting, distribution, values)


__all__ = ["DISTRIBUTIONS", "TUNE_KEY", "Distribution", "Tunable", "categorical", "integer", "log_uniform",
           "parse_tunable", "uniform"]
