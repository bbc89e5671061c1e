"""The typed, frozen results of validation: what each phase hands to the next, and the pipeline the runner gets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qasr_plugins.errors import StageError
from qasr_plugins.graph.guards import redact, scrub_text
from qasr_plugins.libraries import missing_library
from qasr_plugins.registry import PluginEntry
from qasr_plugins.stage import Stage, StageConfig, Writer


@dataclass(frozen=True)
class GivenSpec:
    """A value supplied with each input at run time instead of computed by a node (e.g. the text ``qasr align``
    aligns). Nodes wire it by name like a node; it declares what it will carry, since it is not known yet.

    Attributes:
        name: The name inputs refer to.
        part: The kind of value, as a result-document part (``speech``, ``diarization``, ``transcript``).
        type: The type every supplied value must have (from ``part``).
        capabilities: What the value offers (e.g. ``language``), checked against its consumers' requirements.
    """

    name: str
    part: str
    type: type
    capabilities: frozenset[str]


@dataclass(frozen=True)
class ResolvedNode:
    """A graph node whose stage was found in the registry and whose settings validated; not yet wired."""

    name: str
    kind: str
    stage_name: str
    settings_path: str
    entry: PluginEntry
    stage_class: type[Stage[Any, Any]]
    config: StageConfig
    inputs: Mapping[str, str]

    def with_capabilities(self, capabilities: frozenset[str]) -> NodeSpec:
        return NodeSpec(self.name, self.kind, self.stage_name, self.settings_path, self.entry, self.stage_class,
                        self.config, self.inputs, capabilities)


@dataclass(frozen=True)
class NodeSpec(ResolvedNode):
    """One validated graph node: which registered stage runs, with which settings, fed by which nodes, and what
    its output offers."""

    capabilities: frozenset[str]


@dataclass(frozen=True)
class WriterSpec:
    format: str
    entry: PluginEntry
    writer_class: type[Writer]
    config: StageConfig


@dataclass(frozen=True)
class PipelineSpec:
    """A validated pipeline: nodes in execution order, writers, and the composed config it came from."""

    name: str
    nodes: tuple[NodeSpec, ...]
    writers: tuple[WriterSpec, ...]
    config: Mapping[str, Any]
    transcript_node: str | None
    batch_files: int = 4
    #: Release each stage's models after its node has run on a batch (and load them again for the next batch), so
    #: only one stage's models are in memory at a time.
    release_models: bool = False
    source: str = ""
    given: tuple[GivenSpec, ...] = ()
    #: Config paths whose values came from the environment (``allow_env``): never shown.
    env_paths: frozenset[str] = frozenset()

    def node(self, name: str) -> NodeSpec:
        return next(n for n in self.nodes if n.name == name)

    def public_settings(self, settings_path: str, config: StageConfig) -> dict[str, Any]:
        """``config`` as JSON for provenance and summaries, values filled from the environment redacted."""
        settings = config.model_dump(mode="json")
        return redact(settings, set(self.env_paths), settings_path) if self.env_paths else settings

    def public_text(self, text: str) -> str:
        """``text`` (a stage's model string, a message) with the values filled from the environment redacted."""
        return scrub_text(text, self.config, self.env_paths) if self.env_paths else text

    def missing_libraries(self) -> list[StageError]:
        """An ``S410`` for each node whose stage's declared libraries are not installed (nothing is imported)."""
        found = []
        for node in self.nodes:
            libraries = node.stage_class.libraries_for(node.config)
            missing = libraries.missing() if libraries is not None else ()
            if missing:
                found.append(missing_library(node.stage_name, libraries, missing).located(node.settings_path))
        return found

    def public_config(self) -> dict[str, Any]:
        """The composed config, values filled from the environment redacted."""
        return redact(dict(self.config), set(self.env_paths))

    def describe(self) -> str:
        """A human-readable summary: given values, nodes, edges, stage names, every effective setting, outputs."""
        lines = [f"pipeline {self.name}  ({self.source})"]
        for given in self.given:
            lines.append(f"given: {given.name} ({given.part})  provides: "
                         f"{', '.join(sorted(given.capabilities)) or '-'}")
        lines.append("nodes (execution order):")
        for node in self.nodes:
            edges = ", ".join(f"{port} <- {src}" for port, src in node.inputs.items()) or "audio"
            lines.append(f"  {node.name}: {node.kind} {node.stage_name} [{node.entry.origin}]  inputs: {edges}")
            for key, value in self.public_settings(node.settings_path, node.config).items():
                lines.append(f"      {node.settings_path}.{key} = {value!r}")
            lines.append(f"      provides: {', '.join(sorted(node.capabilities)) or '-'}")
        lines.append(f"transcript from: {self.transcript_node or '-'}")
        lines.append("outputs: " + (", ".join(w.format for w in self.writers) or "-"))
        for writer in self.writers:
            for key, value in self.public_settings(f"outputs.writers.{writer.format}", writer.config).items():
                lines.append(f"      outputs.writers.{writer.format}.{key} = {value!r}")
        return "\n".join(lines)
