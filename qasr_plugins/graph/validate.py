"""Validation of a composed pipeline config, before any model loads, in small phases that each return typed specs.

:func:`validate` runs them in order: the ``known_speakers`` section made a node (:mod:`.speakers`); the config's
sections; the given values; each node resolved through the
registry with its settings validated (:class:`ResolvedNode`); the wiring (ports, upstream names, types); the
execution order; the capabilities flowing along the edges (:class:`NodeSpec`); the transcript node; the writers.
Every phase adds what is wrong to one list, so a user sees all problems at once, each with its code and path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from qasr_plugins import registry
from qasr_plugins.errors import ConfigError, ConfigErrors, PluginError, did_you_mean
from qasr_plugins.graph.guards import scrub
from qasr_plugins.graph.outputs import pick_transcript_node, resolve_writers
from qasr_plugins.graph.sections import GIVEN_KEYS, NODE_KEYS, Sections, as_mapping, read_sections, unknown_keys
from qasr_plugins.graph.speakers import copied_env_paths, expand_section
from qasr_plugins.graph.specs import GivenSpec, NodeSpec, PipelineSpec, ResolvedNode
from qasr_plugins.settings import build_config
from qasr_plugins.stage import KINDS, NODE_KINDS, PART_TYPES


def validate(config: Mapping[str, Any], *, source: str = "",
             env_paths: frozenset[str] = frozenset()) -> PipelineSpec:
    """Check a composed pipeline config and resolve every stage through the registry (no model is loaded).

    Args:
        config: The composed config.
        source: Where it came from (a file, a name), for messages.
        env_paths: Its paths filled from the environment (see :func:`compose`): their values are kept out of
            errors, :meth:`PipelineSpec.describe` and provenance.

    Raises:
        ConfigErrors: every problem found, each with its code and config path.
    """
    errors: list[ConfigError] = []
    config = expand_section(config, errors)
    env_paths = copied_env_paths(config, env_paths)
    sections = read_sections(config, errors)
    given = resolve_given(sections.given, sections.graph, errors)
    resolved = resolve_nodes(sections, errors)
    wire(resolved, sections.graph, given, errors)
    order = topological_order({n: list(node.inputs.values()) for n, node in resolved.items()}, errors)
    if errors:
        raise ConfigErrors(scrub(errors, config, env_paths))
    nodes = check_capabilities([resolved[n] for n in order], given, errors)
    transcript_node = pick_transcript_node(nodes, sections.outputs.get("transcript"), errors)
    doc_caps = frozenset({KINDS[n.kind].document_part for n in nodes.values()}
                         | (nodes[transcript_node].capabilities if transcript_node else set()))
    writers = resolve_writers(sections.outputs, doc_caps, errors)
    batch_files = sections.run.get("batch_files", 4)
    if not isinstance(batch_files, int) or isinstance(batch_files, bool) or batch_files < 1:
        errors.append(ConfigError(f"must be a positive integer, got {batch_files!r}.", where="run.batch_files",
                                  code="C103"))
    release_models = sections.run.get("release_models", False)
    if not isinstance(release_models, bool):
        errors.append(ConfigError(f"must be true or false, got {release_models!r}.", where="run.release_models",
                                  code="C103", hint="true holds one stage's models in memory at a time "
                                                    "(docs/runs.md, 'Batches and memory')."))
    if errors:
        raise ConfigErrors(scrub(errors, config, env_paths))
    return PipelineSpec(name=str(config.get("name", "pipeline")), nodes=tuple(nodes[n] for n in order),
                        writers=tuple(writers), config=dict(config), transcript_node=transcript_node,
                        batch_files=batch_files, release_models=release_models, source=source,
                        given=tuple(given.values()), env_paths=env_paths)


def resolve_given(section: Mapping[str, Any], graph: Mapping[str, Any],
                  errors: list[ConfigError]) -> dict[str, GivenSpec]:
    """``given.<name>: {part: transcript, provides: [language]}`` → the values supplied with each input."""
    given: dict[str, GivenSpec] = {}
    for name, raw in section.items():
        path = f"given.{name}"
        entry = as_mapping(raw, path, errors)
        unknown_keys(entry, GIVEN_KEYS, path, errors)
        part, provides = entry.get("part"), entry.get("provides", [])
        if name in graph:
            errors.append(ConfigError("a given value cannot share its name with a graph node.", where=path,
                                      code="C103", hint="Rename one of them."))
        elif part not in PART_TYPES:
            errors.append(ConfigError(f"unknown part {part!r}.", where=f"{path}.part", code="C103",
                                      hint=did_you_mean(str(part), PART_TYPES)))
        elif not isinstance(provides, list) or not all(isinstance(p, str) for p in provides):
            errors.append(ConfigError("must be a list of capability names.", where=f"{path}.provides", code="C103"))
        else:
            given[str(name)] = GivenSpec(str(name), part, PART_TYPES[part], frozenset(provides))
    return given


def resolve_nodes(sections: Sections, errors: list[ConfigError]) -> dict[str, ResolvedNode]:
    """Each node's stage, found in the registry, with its settings validated; unused stage settings reported."""
    resolved: dict[str, ResolvedNode] = {}
    used_stage_keys: set[str] = set()
    for node_name, raw_node in sections.graph.items():
        node = as_mapping(raw_node, f"graph.{node_name}", errors)
        if node.get("kind") in NODE_KINDS:  # a node of unknown kind uses no settings
            used_stage_keys.add(str(node.get("stage", node_name)))
        found = resolve_node(str(node_name), node, sections.stages, errors)
        if found is not None:
            resolved[found.name] = found
    for key in sections.stages:
        if key not in used_stage_keys:
            errors.append(ConfigError("stage settings not used by any graph node.", where=f"stages.{key}",
                                      code="C113", hint=f"Add a node 'graph.{key}' or remove the settings."))
    return resolved


def resolve_node(node_name: str, node: Mapping[str, Any], stages: Mapping[str, Any],
                 errors: list[ConfigError]) -> ResolvedNode | None:
    """One node: its kind, its stage (``stages.<stage or node name>.name``) and that stage's settings."""
    path = f"graph.{node_name}"
    unknown_keys(node, NODE_KEYS, path, errors)
    kind = node.get("kind")
    if kind not in NODE_KINDS:
        errors.append(ConfigError(f"unknown or missing stage kind {kind!r}.", where=f"{path}.kind", code="C110",
                                  hint=did_you_mean(str(kind), NODE_KINDS)))
        return None
    stage_key = str(node.get("stage", node_name))
    settings_path = f"stages.{stage_key}"
    settings = dict(as_mapping(stages.get(stage_key), settings_path, errors))
    stage_name = settings.pop("name", None)
    if stage_name is not None and not isinstance(stage_name, str):
        errors.append(ConfigError(f"must be a stage name, got {type(stage_name).__name__}.",
                                  where=f"{settings_path}.name", code="C103",
                                  hint=f"Name a registered {kind} stage ('qasr plugins {kind}')."))
        return None
    if stage_key not in stages or not stage_name:
        errors.append(ConfigError(f"node {node_name!r} has no stage settings with a 'name'.",
                                  where=f"{settings_path}.name", code="C101",
                                  hint=f"Add '- /stages/{kind}: <preset>' to defaults, or set "
                                  f"'{settings_path}.name' to a registered {kind} stage "
                                  f"({', '.join(e.name for e in registry.entries(kind)) or 'none installed'})."))
        return None
    try:
        entry = registry.find(kind, stage_name)
        stage_class = registry.load(kind, stage_name)
    except PluginError as exc:  # P203 is an unknown name in this config; others keep code and class
        errors.append(ConfigError(exc.message, where=f"{settings_path}.name", code="C101", hint=exc.hint)
                      if exc.code == "P203" else exc.located(f"{settings_path}.name"))
        return None
    try:
        stage_config = build_config(stage_class, settings, settings_path, stage_name)
    except ConfigErrors as exc:
        errors.extend(exc.errors)
        return None
    inputs = {str(k): str(v) for k, v in as_mapping(node.get("inputs"), f"{path}.inputs", errors).items()}
    return ResolvedNode(node_name, kind, stage_name, settings_path, entry, stage_class, stage_config, inputs)


def wire(nodes: Mapping[str, ResolvedNode], graph: Mapping[str, Any], given: Mapping[str, GivenSpec],
         errors: list[ConfigError]) -> None:
    """Check every node's inputs: known ports, existing upstream nodes or given values, matching types, and
    every required port wired."""
    for node in nodes.values():
        ports = KINDS[node.kind].ports()
        for port, upstream in node.inputs.items():
            where = f"graph.{node.name}.inputs.{port}"
            if port not in ports:
                errors.append(ConfigError(f"{node.kind} stages have no input {port!r}.", where=where,
                                          code="C109", hint=did_you_mean(port, ports)))
            elif upstream not in graph and upstream not in given:
                errors.append(ConfigError(f"input refers to unknown node {upstream!r}.", where=where, code="C105",
                                          hint=did_you_mean(upstream, [*graph, *given])))
            elif upstream in nodes or upstream in given:
                source = nodes[upstream].kind if upstream in nodes else "given"
                produced = nodes[upstream].stage_class.Output if upstream in nodes else given[upstream].type
                expected = ports[port][0]
                if not issubclass(produced, expected):
                    errors.append(ConfigError(
                        f"port {port!r} takes {expected.__name__}, but node {upstream!r} "
                        f"({source}) produces {produced.__name__}.", where=where, code="C106",
                        hint="Wire a node of a kind that produces " + expected.__name__ + "."))
        for port, (_, required) in ports.items():
            if required and port not in node.inputs:
                errors.append(ConfigError(f"required input {port!r} is not wired.",
                                          where=f"graph.{node.name}.inputs.{port}", code="C104",
                                          hint=f"Set it to the node that provides it, e.g. "
                                          f"'graph.{node.name}.inputs.{port}=<node>'."))


def topological_order(edges: Mapping[str, Iterable[str]], errors: list[ConfigError]) -> list[str]:
    """The nodes, each after its upstream nodes (names that are not nodes, e.g. given values, are ignored)."""
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


def check_capabilities(ordered: Iterable[ResolvedNode], given: Mapping[str, GivenSpec],
                       errors: list[ConfigError]) -> dict[str, NodeSpec]:
    """Flow capabilities along the edges (in execution order) and check each stage's requirements against them."""
    nodes: dict[str, NodeSpec] = {}

    def offered(name: str | None) -> tuple[frozenset[str], str]:
        if name in nodes:
            return nodes[name].capabilities, f"{name} ({nodes[name].stage_name})"
        if name in given:
            return given[name].capabilities, f"{name} (given)"
        return frozenset(), "nothing"

    for node in ordered:
        cls, cfg = node.stage_class, node.config
        caps = set(cls.provides(cfg))
        if cls.passthrough and cls.passthrough in node.inputs:
            caps |= offered(node.inputs[cls.passthrough])[0]
        for port, needed in cls.requires(cfg).items():
            have, source = offered(node.inputs.get(port))
            for capability in sorted(set(needed) - have):
                errors.append(ConfigError(
                    f"{node.kind} {node.stage_name!r} needs {capability!r} on its {port!r} input, "
                    f"but {source} provides none.", where=f"graph.{node.name}.inputs.{port}", code="C108",
                    hint=cls.unmet_hint(port, capability)))
        nodes[node.name] = node.with_capabilities(frozenset(caps))
    return nodes
