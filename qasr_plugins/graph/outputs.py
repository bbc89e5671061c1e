"""The outputs of a validated graph: which node's transcript the writers get, and the writers themselves."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qasr_plugins import registry
from qasr_plugins.errors import ConfigError, ConfigErrors, PluginError, did_you_mean
from qasr_plugins.graph.sections import as_mapping
from qasr_plugins.graph.specs import NodeSpec, WriterSpec
from qasr_plugins.settings import build_config
from qasr_plugins.stage import KINDS, AnyOf


def pick_transcript_node(nodes: Mapping[str, NodeSpec], chosen: Any, errors: list[ConfigError]) -> str | None:
    """``outputs.transcript`` when set, else the one transcript-producing node nothing consumes (if any)."""
    producers = [n for n in nodes.values() if KINDS[n.kind].document_part == "transcript"]
    if chosen is not None and not isinstance(chosen, str):
        errors.append(ConfigError(f"must be a node name, got {type(chosen).__name__}.", where="outputs.transcript",
                                  code="C103", hint="Name the node whose transcript the writers get."))
        return None
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


def format_list(value: Any, errors: list[ConfigError]) -> list[str]:
    """``outputs.formats`` (a list of names or a comma list; absent: ``json``) as names; a ``C103`` when it is of
    another type, holds anything but names, or is empty (a run that writes nothing)."""
    if value is None:
        return ["json"]
    names = [f.strip() for f in value.split(",") if f.strip()] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        errors.append(ConfigError(f"must be a list of format names, got {value!r}.", where="outputs.formats",
                                  code="C103", hint="E.g. 'outputs.formats=[json,srt]'; see 'qasr plugins writer'."))
        return []
    if not names:
        errors.append(ConfigError("no output formats: nothing would be written.", where="outputs.formats",
                                  code="C103", hint="Name at least one, e.g. 'outputs.formats=[json]'."))
    return names


def resolve_writers(outputs: Mapping[str, Any], doc_caps: frozenset[str],
                    errors: list[ConfigError]) -> list[WriterSpec]:
    """A writer for each of ``outputs.formats`` (default ``json``), its settings validated and its requirements
    met by the document's parts and capabilities ``doc_caps``. Settings under ``outputs.writers`` of a registered
    format not written this time are validated too."""
    formats = format_list(outputs.get("formats"), errors)
    settings_by_format = as_mapping(outputs.get("writers"), "outputs.writers", errors)
    registered = {e.name for e in registry.entries("writer")}
    for fmt in settings_by_format:  # settings of formats not written this time are validated all the same
        if fmt not in registered:
            errors.append(ConfigError(f"no writer is registered as {fmt!r}.", where=f"outputs.writers.{fmt}",
                                      code="C111", hint=did_you_mean(str(fmt), registered)))
        elif fmt not in formats:
            _check_unwritten(str(fmt), settings_by_format[fmt], errors)
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
            cfg = build_config(cls, as_mapping(settings_by_format.get(fmt), path, errors), path, f"writer {fmt!r}")
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


def _check_unwritten(fmt: str, settings: Any, errors: list[ConfigError]) -> None:
    """Validate the settings of a registered writer this run does not write, so that a typo in them is reported
    (with its path) now rather than when the format is first written."""
    path = f"outputs.writers.{fmt}"
    try:
        build_config(registry.load("writer", fmt), as_mapping(settings, path, errors), path, f"writer {fmt!r}")
    except PluginError as exc:
        errors.append(exc.located(path))
    except ConfigErrors as exc:
        errors.extend(exc.errors)
