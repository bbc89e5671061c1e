"""The top-level sections of a pipeline config, and the checks every section shares (mappings, known keys)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from qasr_plugins.errors import ConfigError, did_you_mean

TOP_LEVEL_KEYS = frozenset({"name", "description", "graph", "stages", "outputs", "run", "given"})
NODE_KEYS = frozenset({"kind", "stage", "inputs"})
GIVEN_KEYS = frozenset({"part", "provides"})
OUTPUT_KEYS = frozenset({"formats", "writers", "transcript"})
RUN_KEYS = frozenset({"batch_files", "release_models"})


@dataclass(frozen=True)
class Sections:
    """The top-level sections of a pipeline config, each a mapping (empty when absent or malformed)."""

    graph: Mapping[str, Any]
    stages: Mapping[str, Any]
    outputs: Mapping[str, Any]
    run: Mapping[str, Any]
    given: Mapping[str, Any]


def read_sections(config: Mapping[str, Any], errors: list[ConfigError]) -> Sections:
    """The config's sections, with unknown top-level, ``outputs`` and ``run`` keys and an empty graph reported."""
    unknown_keys(config, TOP_LEVEL_KEYS, "", errors)
    sections = Sections(*(as_mapping(config.get(key), key, errors)
                          for key in ("graph", "stages", "outputs", "run", "given")))
    unknown_keys(sections.outputs, OUTPUT_KEYS, "outputs", errors)
    unknown_keys(sections.run, RUN_KEYS, "run", errors)
    if not sections.graph:
        errors.append(ConfigError("the pipeline has no nodes.", where="graph", code="C104",
                                  hint="Add at least one node, e.g. 'graph: {vad: {kind: vad}}'."))
    return sections


def as_mapping(value: Any, path: str, errors: list[ConfigError]) -> Mapping[str, Any]:
    """``value`` when it is a mapping, ``{}`` when it is absent; otherwise ``{}`` and a ``C103`` at ``path``."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        errors.append(ConfigError(f"must be a mapping, got {type(value).__name__}.", where=path, code="C103"))
        return {}
    return value


def unknown_keys(data: Mapping[str, Any], allowed: Iterable[str], path: str, errors: list[ConfigError]) -> None:
    """A ``C102`` for each key of ``data`` not in ``allowed``, with the closest allowed key."""
    for key in data:
        if key not in allowed:
            errors.append(ConfigError("unknown key.", where=f"{path}.{key}" if path else str(key), code="C102",
                                      hint=did_you_mean(str(key), allowed)))
