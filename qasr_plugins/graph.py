"""Pipeline configs: compose OmegaConf YAML with Hydra, then validate the graph before any model loads.

A pipeline file looks like::

    defaults:
      - /stages/vad: silero          # configs/stages/vad/silero.yaml → stages.vad
      - _self_
    graph:
      vad: {kind: vad}               # settings from stages.vad (or stages.<stage:>)
      asr: {kind: asr, inputs: {speech: vad}}
    outputs:
      formats: [json]
      writers: {srt: {max_chars: 42}}

Stage presets name a registered stage (``name: silero.vad``) and its settings. Components are only ever built
from registered names; nothing in a config can import an arbitrary dotted path.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from qasr_plugins import registry
from qasr_plugins.errors import ConfigError, ConfigErrors, PluginError, QasrError, did_you_mean
from qasr_plugins.registry import PluginEntry
from qasr_plugins.stage import (
    KINDS,
    STAGE_BASES,
    AnyOf,
    StageConfig,
    input_ports,
)

TOP_LEVEL_KEYS = frozenset({"name", "description", "graph", "stages", "outputs", "run"})
NODE_KEYS = frozenset({"kind", "stage", "inputs"})
OUTPUT_KEYS = frozenset({"formats", "writers", "transcript"})
RUN_KEYS = frozenset({"batch_files"})
USER_CONFIG_PATH_ENV = "QASR_CONFIG_PATH"

#: What each kind's output adds to the result document, as capabilities writers can require.
DOCUMENT_PARTS = {"vad": "speech", "diarization": "diarization", "asr": "transcript", "align": "transcript",
                  "attribution": "transcript"}


def packaged_pipelines_dir() -> Path:
    return Path(str(resources.files("qasr_plugins.pipelines")))


def packaged_configs_dir() -> Path:
    return Path(str(resources.files("qasr_plugins.configs")))


def available_pipelines() -> list[str]:
    return sorted(p.stem for p in packaged_pipelines_dir().glob("*.yaml"))


def resolve_pipeline(name_or_path: str | os.PathLike[str]) -> Path:
    """A packaged pipeline name (``vad``) or a YAML path → the file.

    Raises:
        ConfigError: ``C100`` when neither exists (with the closest names).
    """
    text = str(name_or_path)
    candidate = Path(text)
    if candidate.suffix in (".yaml", ".yml") or os.sep in text or candidate.is_file():
        if candidate.is_file():
            return candidate.resolve()
        raise ConfigError("pipeline file does not exist.", where=text, code="C100",
                          hint="Give a YAML path or one of: " + ", ".join(available_pipelines()) + ".")
    packaged = packaged_pipelines_dir() / f"{text}.yaml"
    if packaged.is_file():
        return packaged
    raise ConfigError(f"no pipeline named {text!r}.", where=text, code="C100",
                      hint=did_you_mean(text, available_pipelines()) + " Or give a path to a YAML file.")


def search_dirs() -> list[Path]:
    """Where stage presets are looked up: the user's dirs (``QASR_CONFIG_PATH``), then the packaged ones."""
    extra = [Path(p) for p in os.environ.get(USER_CONFIG_PATH_ENV, "").split(os.pathsep) if p]
    return [*extra, packaged_configs_dir()]


def compose(pipeline: str | os.PathLike[str], overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Compose a pipeline file with its stage presets and dotlist ``overrides`` into a plain dict.

    ``stages/asr=qwen3_asr_1.7b`` swaps a whole preset; ``stages.asr.batch_size=4`` sets one key;
    ``+stages.asr.new_key=1`` adds one.

    Raises:
        ConfigError: ``C100`` (file/preset not found, YAML error) or ``C112`` (malformed override).
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException, MissingConfigException, OverrideParseException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    path = resolve_pipeline(pipeline)
    searchpath = ",".join(f"file://{d}" for d in search_dirs())
    overrides = [_upsert(o) for o in overrides]
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(path.parent), version_base="1.3", job_name="qasr"):
            cfg = hydra_compose(config_name=path.stem, overrides=[*overrides, f"hydra.searchpath=[{searchpath}]"])
    except OverrideParseException as exc:
        raise ConfigError(f"malformed override: {exc}", where=str(path), code="C112",
                          hint="Use key.path=value, group/option=preset or +key.path=value.") from exc
    except MissingConfigException as exc:
        raise ConfigError(" ".join(str(exc).split("\nConfig search path")[0].split()), where=str(path),
                          code="C100", hint="Name an existing preset, or add one under configs/stages/<kind>/ "
                          f"or a directory on {USER_CONFIG_PATH_ENV}.") from exc
    except (HydraException, OmegaConfBaseException, ValueError) as exc:
        raise ConfigError(f"cannot compose: {exc}", where=str(path), code="C100",
                          hint="Fix the YAML or the override named above.") from exc
    finally:
        GlobalHydra.instance().clear()
    try:
        data = OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as exc:
        raise ConfigError(f"cannot resolve interpolation: {exc}", where=str(path), code="C100") from exc
    assert isinstance(data, dict)
    data.setdefault("name", path.stem)
    return data


def _upsert(override: str) -> str:
    """``a.b=v`` → ``++a.b=v``: set a key whether or not the preset lists it. Typos are still caught, by schema
    validation, with their exact path. Group swaps (``stages/asr=x``) and explicit ``+``/``~`` forms pass through."""
    key = override.split("=", 1)[0]
    if "=" not in override or override.startswith(("+", "~")) or "/" in key or "@" in key:
        return override
    return "++" + override


@dataclass(frozen=True)
class NodeSpec:
    """One validated graph node: which registered stage runs, with which settings, fed by which nodes."""

    name: str
    kind: str
    stage_name: str
    settings_path: str
    entry: PluginEntry
    stage_class: type
    config: StageConfig
    inputs: Mapping[str, str]
    capabilities: frozenset[str]

    @property
    def output_type(self) -> type:
        return self.stage_class.Output


@dataclass(frozen=True)
class WriterSpec:
    format: str
    entry: PluginEntry
    writer_class: type
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
    source: str = ""
    document_capabilities: frozenset[str] = field(default_factory=frozenset)

    def node(self, name: str) -> NodeSpec:
        return next(n for n in self.nodes if n.name == name)

    def describe(self) -> str:
        """A human-readable summary: nodes, edges, stage names, settings, outputs."""
        lines = [f"pipeline {self.name}  ({self.source})", "nodes (execution order):"]
        for node in self.nodes:
            edges = ", ".join(f"{port} <- {src}" for port, src in node.inputs.items()) or "audio"
            lines.append(f"  {node.name}: {node.kind} {node.stage_name} [{node.entry.origin}]  inputs: {edges}")
            for key, value in node.config.model_dump(mode="json").items():
                lines.append(f"      {node.settings_path}.{key} = {value!r}")
            lines.append(f"      provides: {', '.join(sorted(node.capabilities)) or '-'}")
        lines.append(f"transcript from: {self.transcript_node or '-'}")
        lines.append("outputs: " + (", ".join(w.format for w in self.writers) or "-"))
        for writer in self.writers:
            for key, value in writer.config.model_dump(mode="json").items():
                lines.append(f"      outputs.writers.{writer.format}.{key} = {value!r}")
        return "\n".join(lines)


def _pydantic_errors(exc: ValidationError, base_path: str, owner: str) -> list[ConfigError]:
    errors: list[ConfigError] = []
    for err in exc.errors():
        path = ".".join([base_path, *(str(p) for p in err["loc"])])
        if err["type"] == "extra_forbidden":
            errors.append(ConfigError(f"unknown setting for {owner}.", where=path, code="C102",
                                      hint="Remove it: it may be left over from a previous stage preset "
                                      "(swap whole presets with 'stages/<kind>=<preset>')."))
        else:
            message = str(err["msg"]).rstrip(".")
            errors.append(ConfigError(f"invalid value for {owner}: {message}.", where=path, code="C103",
                                      hint=f"Got {err.get('input')!r}."))
    return errors


def build_config(cls: type, settings: Mapping[str, Any], path: str, owner: str) -> StageConfig:
    """Validate ``settings`` against ``cls.Config``; raise :class:`ConfigErrors` naming each bad path."""
    try:
        return cls.Config(**settings)
    except ValidationError as exc:
        raise ConfigErrors(_pydantic_errors(exc, path, owner)) from None
    except QasrError as exc:  # raised by the config's own validators, relative to its settings
        raise ConfigErrors([exc.located(path)]) from exc


def _as_mapping(value: Any, path: str, errors: list[ConfigError]) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        errors.append(ConfigError(f"must be a mapping, got {type(value).__name__}.", where=path, code="C103"))
        return {}
    return value


def _unknown_keys(data: Mapping[str, Any], allowed: Iterable[str], path: str, errors: list[ConfigError]) -> None:
    for key in data:
        if key not in allowed:
            errors.append(ConfigError("unknown key.", where=f"{path}.{key}" if path else str(key), code="C102",
                                      hint=did_you_mean(str(key), allowed)))


def _topological_order(edges: Mapping[str, Iterable[str]], errors: list[ConfigError]) -> list[str]:
    order: list[str] = []
    state: dict[str, int] = {}  # 1 = visiting, 2 = done

    def visit(node: str, trail: list[str]) -> None:
        if state.get(node) == 2:
            return
        if state.get(node) == 1:
            cycle = trail[trail.index(node):] + [node]
            errors.append(ConfigError("the graph has a cycle: " + " -> ".join(cycle) + ".",
                                      where=f"graph.{node}.inputs", code="C107",
                                      hint="Remove one of these inputs; a pipeline must be acyclic."))
            return
        state[node] = 1
        for upstream in edges.get(node, ()):
            if upstream in edges:
                visit(upstream, [*trail, node])
        state[node] = 2
        order.append(node)

    for node in edges:
        visit(node, [])
    return order


def validate(config: Mapping[str, Any], *, source: str = "") -> PipelineSpec:
    """Check a composed pipeline config and resolve every stage through the registry (no model is loaded).

    Raises:
        ConfigErrors: every problem found, each with its code and config path.
    """
    errors: list[ConfigError] = []
    _unknown_keys(config, TOP_LEVEL_KEYS, "", errors)
    graph = _as_mapping(config.get("graph"), "graph", errors)
    stages = _as_mapping(config.get("stages"), "stages", errors)
    outputs = _as_mapping(config.get("outputs"), "outputs", errors)
    run = _as_mapping(config.get("run"), "run", errors)
    _unknown_keys(outputs, OUTPUT_KEYS, "outputs", errors)
    _unknown_keys(run, RUN_KEYS, "run", errors)
    if not graph:
        errors.append(ConfigError("the pipeline has no nodes.", where="graph", code="C104",
                                  hint="Add at least one node, e.g. 'graph: {vad: {kind: vad}}'."))

    used_stage_keys: set[str] = set()
    partial: dict[str, dict[str, Any]] = {}
    for node_name, raw_node in graph.items():
        path = f"graph.{node_name}"
        node = _as_mapping(raw_node, path, errors)
        _unknown_keys(node, NODE_KEYS, path, errors)
        kind = node.get("kind")
        if kind not in STAGE_BASES:
            errors.append(ConfigError(f"unknown or missing stage kind {kind!r}.", where=f"{path}.kind", code="C110",
                                      hint=did_you_mean(str(kind), STAGE_BASES)))
            continue
        stage_key = str(node.get("stage", node_name))
        used_stage_keys.add(stage_key)
        settings_path = f"stages.{stage_key}"
        settings = dict(_as_mapping(stages.get(stage_key), settings_path, errors))
        stage_name = settings.pop("name", None)
        if stage_key not in stages or not stage_name:
            errors.append(ConfigError(f"node {node_name!r} has no stage settings with a 'name'.",
                                      where=f"{settings_path}.name", code="C101",
                                      hint=f"Add '- /stages/{kind}: <preset>' to defaults, or set "
                                      f"'{settings_path}.name' to a registered {kind} stage "
                                      f"({', '.join(e.name for e in registry.entries(kind)) or 'none installed'})."))
            continue
        try:
            entry = registry.find(kind, stage_name)
            stage_class = registry.load(kind, stage_name)
        except PluginError as exc:  # P203 is an unknown name in this config; others keep code and class
            errors.append(ConfigError(exc.message, where=f"{settings_path}.name", code="C101", hint=exc.hint)
                          if exc.code == "P203" else exc.located(f"{settings_path}.name"))
            continue
        try:
            stage_config = build_config(stage_class, settings, settings_path, stage_name)
        except ConfigErrors as exc:
            errors.extend(exc.errors)
            continue
        inputs = {str(k): str(v) for k, v in _as_mapping(node.get("inputs"), f"{path}.inputs", errors).items()}
        partial[node_name] = {"kind": kind, "stage_name": stage_name, "settings_path": settings_path, "entry": entry,
                                  "stage_class": stage_class, "config": stage_config, "inputs": inputs}

    for key in stages:
        if key not in used_stage_keys:
            errors.append(ConfigError("stage settings not used by any graph node.", where=f"stages.{key}",
                                      code="C113", hint=f"Add a node 'graph.{key}' or remove the settings."))

    # Wiring: ports, upstream nodes, types.
    for node_name, node in partial.items():
        ports = input_ports(node["kind"])
        for port, upstream in node["inputs"].items():
            where = f"graph.{node_name}.inputs.{port}"
            if port not in ports:
                errors.append(ConfigError(f"{node['kind']} stages have no input {port!r}.", where=where,
                                          code="C109", hint=did_you_mean(port, ports)))
            elif upstream not in graph:
                errors.append(ConfigError(f"input refers to unknown node {upstream!r}.", where=where, code="C105",
                                          hint=did_you_mean(upstream, graph)))
            elif upstream in partial:
                produced = partial[upstream]["stage_class"].Output
                expected = ports[port][0]
                if not issubclass(produced, expected):
                    errors.append(ConfigError(
                        f"port {port!r} takes {expected.__name__}, but node {upstream!r} "
                        f"({partial[upstream]['kind']}) produces {produced.__name__}.", where=where, code="C106",
                        hint="Wire a node of a kind that produces " + expected.__name__ + "."))
        for port, (_, required) in ports.items():
            if required and port not in node["inputs"]:
                errors.append(ConfigError(f"required input {port!r} is not wired.",
                                          where=f"graph.{node_name}.inputs.{port}", code="C104",
                                          hint=f"Set it to the node that provides it, e.g. "
                                          f"'graph.{node_name}.inputs.{port}=<node>'."))

    order = _topological_order({n: list(partial[n]["inputs"].values()) for n in partial}, errors)
    if errors:
        raise ConfigErrors(errors)

    # Capabilities flow along the edges; requirements are checked against them.
    nodes: dict[str, NodeSpec] = {}
    for node_name in order:
        node = partial[node_name]
        cls, cfg = node["stage_class"], node["config"]
        caps = set(cls.provides(cfg))
        if cls.passthrough and cls.passthrough in node["inputs"]:
            caps |= nodes[node["inputs"][cls.passthrough]].capabilities
        for port, needed in cls.requires(cfg).items():
            upstream = node["inputs"].get(port)
            have = nodes[upstream].capabilities if upstream in nodes else frozenset()
            for capability in sorted(set(needed) - have):
                source = f"{upstream} ({nodes[upstream].stage_name})" if upstream in nodes else "nothing"
                errors.append(ConfigError(
                    f"{node['kind']} {node['stage_name']!r} needs {capability!r} on its {port!r} input, "
                    f"but {source} provides none.", where=f"graph.{node_name}.inputs.{port}", code="C108",
                    hint=cls.unmet_hint(port, capability)))
        nodes[node_name] = NodeSpec(name=node_name, capabilities=frozenset(caps), **node)

    transcript_node = _pick_transcript_node(nodes, outputs.get("transcript"), errors)
    doc_caps = {DOCUMENT_PARTS[n.kind] for n in nodes.values()}
    if transcript_node:
        doc_caps |= nodes[transcript_node].capabilities

    writers = _writers(outputs, frozenset(doc_caps), errors)
    batch_files = run.get("batch_files", 4)
    if not isinstance(batch_files, int) or batch_files < 1:
        errors.append(ConfigError("must be a positive integer.", where="run.batch_files", code="C103"))
    if errors:
        raise ConfigErrors(errors)
    return PipelineSpec(name=str(config.get("name", "pipeline")), nodes=tuple(nodes[n] for n in order),
                        writers=tuple(writers), config=dict(config), transcript_node=transcript_node,
                        batch_files=batch_files, source=source, document_capabilities=frozenset(doc_caps))


def _pick_transcript_node(nodes: Mapping[str, NodeSpec], chosen: Any, errors: list[ConfigError]) -> str | None:
    producers = [n for n in nodes.values() if DOCUMENT_PARTS[n.kind] == "transcript"]
    if chosen is not None:
        if chosen not in nodes or nodes[chosen] not in producers:
            errors.append(ConfigError(f"{chosen!r} is not a node that produces a transcript.",
                                      where="outputs.transcript", code="C105",
                                      hint=did_you_mean(str(chosen), [p.name for p in producers])))
            return None
        return str(chosen)
    consumed = {src for n in nodes.values() for src in n.inputs.values()}
    sinks = [p.name for p in producers if p.name not in consumed]
    if len(sinks) > 1:
        errors.append(ConfigError(f"several nodes produce a final transcript: {', '.join(sinks)}.",
                                  where="outputs.transcript", code="C114",
                                  hint="Set outputs.transcript to the one the writers should use."))
        return None
    return sinks[0] if sinks else None


def _writers(outputs: Mapping[str, Any], doc_caps: frozenset[str], errors: list[ConfigError]) -> list[WriterSpec]:
    formats = outputs.get("formats", ["json"])
    if isinstance(formats, str):
        formats = [f.strip() for f in formats.split(",") if f.strip()]
    settings_by_format = _as_mapping(outputs.get("writers"), "outputs.writers", errors)
    registered = {e.name for e in registry.entries("writer")}
    for fmt in settings_by_format:  # settings of registered formats not written this time are kept for later
        if fmt not in registered:
            errors.append(ConfigError(f"no writer is registered as {fmt!r}.", where=f"outputs.writers.{fmt}",
                                      code="C111", hint=did_you_mean(str(fmt), registered)))
    specs: list[WriterSpec] = []
    for fmt in formats:
        where = f"outputs.formats.{fmt}"
        try:
            entry = registry.find("writer", fmt)
            cls = registry.load("writer", fmt)
        except PluginError as exc:
            errors.append(ConfigError(exc.message, where=where, code="C111", hint=exc.hint)
                          if exc.code == "P203" else exc.located(where))
            continue
        path = f"outputs.writers.{fmt}"
        try:
            cfg = build_config(cls, _as_mapping(settings_by_format.get(fmt), path, errors), path, f"writer {fmt!r}")
        except ConfigErrors as exc:
            errors.extend(exc.errors)
            continue
        missing = sorted(str(r) for r in cls.requires(cfg)
                         if not (r.met_by(doc_caps) if isinstance(r, AnyOf) else r in doc_caps))
        if missing:
            errors.append(ConfigError(f"format {fmt!r} needs {', '.join(missing)}, "
                                      "which no node of this pipeline "
                                      "provides.", where=where, code="C108",
                                      hint="Add the stage that provides it, or drop the format."))
            continue
        specs.append(WriterSpec(fmt, entry, cls, cfg))
    return specs


def load_pipeline(pipeline: str | os.PathLike[str], overrides: Sequence[str] = (),
                  formats: Sequence[str] | None = None) -> PipelineSpec:
    """Compose and validate in one step. ``formats`` replaces ``outputs.formats`` when given."""
    path = resolve_pipeline(pipeline)
    config = compose(path, overrides)
    if formats is not None:
        config.setdefault("outputs", {})
        config["outputs"] = {**(config["outputs"] or {}), "formats": list(formats)}
    return validate(config, source=str(path))


__all__ = ["KINDS", "NodeSpec", "PipelineSpec", "QasrError", "WriterSpec", "available_pipelines", "compose",
           "load_pipeline", "resolve_pipeline", "validate"]
