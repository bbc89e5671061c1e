"""Stage discovery through ``importlib.metadata`` entry points, one group per stage kind.

Listing reads metadata only (nothing is imported); a stage class is imported when it is first asked for.
First-party stages are registered in qasr's own ``pyproject.toml`` exactly like a third party's.

A distribution may also ship stage presets and pipelines: an entry point of the :data:`CONFIGS_GROUP` group names
a package directory holding ``stages/<kind>/*.yaml`` and/or ``pipelines/*.yaml`` (:func:`config_entries`).

Tests and notebooks may also :func:`register` a class under a name for the running process only (see
``qasr_plugins.testing.register_stage``); it is listed with the distribution :data:`IN_PROCESS`. Configs still name
stages, never import paths.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

from qasr_plugins.errors import PluginError, did_you_mean
from qasr_plugins.stage import KINDS

#: Kind names in listing order.
KIND_NAMES: tuple[str, ...] = tuple(KINDS)
#: The distribution shown for stages registered in-process with :func:`register`.
IN_PROCESS = "<in-process>"
#: The entry-point group through which a distribution ships presets and pipelines (entries have kind ``configs``).
CONFIGS_GROUP = "qasr.configs"


@dataclass(frozen=True)
class PluginEntry:
    """One registered stage (or, with kind ``configs``, one package of presets and pipelines), as the metadata
    describes it."""

    kind: str
    name: str
    target: str
    distribution: str | None
    version: str | None

    @property
    def origin(self) -> str:
        return f"{self.distribution or '<unknown distribution>'} {self.version or ''}".strip()


def _entry(kind: str, ep: EntryPoint) -> PluginEntry:
    dist = getattr(ep, "dist", None)
    name = dist.metadata["Name"] if dist is not None else None
    return PluginEntry(kind, ep.name, ep.value, name, dist.version if dist is not None else None)


def _order(entry: PluginEntry) -> tuple[int, str, str]:
    return KIND_NAMES.index(entry.kind), entry.name, entry.distribution or ""


#: (kind, name) → the in-process registrations of that name, the latest last (it shadows the others).
_in_process: dict[tuple[str, str], list[tuple[PluginEntry, type[Any]]]] = {}


@lru_cache(maxsize=1)
def _scan() -> tuple[PluginEntry, ...]:
    found: dict[tuple[str, str, str, str | None], PluginEntry] = {}
    for kind in KINDS.values():
        for ep in entry_points(group=kind.group):
            entry = _entry(kind.name, ep)
            # The same distribution may be visible twice on sys.path (e.g. an editable install): keep one.
            found.setdefault((kind, entry.name, entry.target, entry.distribution), entry)
    return tuple(sorted(found.values(), key=_order))


def refresh() -> None:
    """Forget cached metadata and loaded classes (after installing or removing a plugin in-process)."""
    _scan.cache_clear()
    _load_installed.cache_clear()
    config_entries.cache_clear()


@lru_cache(maxsize=1)
def config_entries() -> tuple[PluginEntry, ...]:
    """The :data:`CONFIGS_GROUP` entry points, by distribution then name, from metadata alone."""
    found: dict[tuple[str, str, str | None], PluginEntry] = {}
    for ep in entry_points(group=CONFIGS_GROUP):
        entry = _entry("configs", ep)
        found.setdefault((entry.name, entry.target, entry.distribution), entry)
    return tuple(sorted(found.values(), key=lambda e: (e.distribution or "", e.name)))


def config_dir(entry: PluginEntry) -> Path:
    """The directory of the package a :data:`CONFIGS_GROUP` entry names (the package is imported to find it).

    Raises:
        PluginError: ``P201`` if the package fails to import, ``P207`` if the entry names no package directory.
    """
    directory = None
    if ":" not in entry.target:
        try:
            directory = Path(str(resources.files(entry.target.strip())))
        except Exception as exc:
            raise PluginError(f"configs {entry.name!r} from {entry.origin} failed to import: {type(exc).__name__}: "
                              f"{exc}", code="P201", hint=f"Reinstall or fix {entry.distribution or 'the plugin'}; "
                              "other presets and pipelines are unaffected.") from exc
    if directory is None or not directory.is_dir():
        raise PluginError(f"configs entry point {entry.name!r} ({entry.target}) from {entry.origin} names no package "
                          "directory.", code="P207", hint="Point it at a package (e.g. 'my_plugin.configs') that "
                          "holds stages/<kind>/*.yaml and/or pipelines/*.yaml.")
    return directory


def _check_kind(kind: str) -> None:
    if kind not in KIND_NAMES:
        raise PluginError(f"unknown stage kind {kind!r}.", code="P205", hint=did_you_mean(kind, KIND_NAMES))


def entries(kind: str | None = None) -> list[PluginEntry]:
    """Registered stages, optionally of one kind, from metadata alone (plus in-process registrations)."""
    if kind is not None:
        _check_kind(kind)
    local = [stack[-1][0] for stack in _in_process.values()]
    found = [e for e in _scan() if (e.kind, e.name) not in _in_process] + local
    return sorted((e for e in found if kind is None or e.kind == kind), key=_order)


def register(kind: str, name: str, cls: type[Any], *, replace: bool = False) -> PluginEntry:
    """Register ``cls`` as ``name`` for ``kind`` in this process only, until :func:`unregister`.

    Args:
        kind: The stage kind (``vad`` … ``writer``).
        name: The name configs use.
        cls: A subclass of the kind's base class.
        replace: Shadow a stage already registered under ``name`` (installed or in-process).

    Returns:
        The entry listings show, with the distribution :data:`IN_PROCESS`.

    Raises:
        PluginError: ``P205`` for an unknown kind, ``P204`` if ``cls`` is not a stage class of that kind,
            ``P202`` if ``name`` is taken and ``replace`` is false.
    """
    _check_kind(kind)
    entry = PluginEntry(kind, name, f"{cls.__module__}:{cls.__qualname__}", IN_PROCESS, None)
    _check_class(entry, cls)
    taken = [e for e in entries(kind) if e.name == name]
    if taken and not replace:
        raise PluginError(f"{kind} stage name {name!r} is claimed by {taken[0].origin} and {IN_PROCESS}.",
                          code="P202", hint="Choose another name, or pass replace=True to shadow it in this process.")
    _in_process.setdefault((kind, name), []).append((entry, cls))
    return entry


def unregister(kind: str, name: str) -> None:
    """Undo the latest :func:`register` of ``name`` (what it shadowed is visible again).

    Raises:
        PluginError: ``P203`` when ``name`` is not registered in-process.
    """
    stack = _in_process.get((kind, name))
    if not stack:
        raise PluginError(f"no {kind} stage is registered in-process as {name!r}.", code="P203")
    stack.pop()
    if not stack:
        del _in_process[(kind, name)]


def conflicts(kind: str | None = None) -> dict[tuple[str, str], list[PluginEntry]]:
    """Names claimed by more than one distribution within a kind."""
    by_name: dict[tuple[str, str], list[PluginEntry]] = {}
    for entry in entries(kind):
        by_name.setdefault((entry.kind, entry.name), []).append(entry)
    return {key: group for key, group in by_name.items() if len({e.distribution for e in group}) > 1}


def find(kind: str, name: str) -> PluginEntry:
    """The single entry registered as ``name`` for ``kind``.

    Raises:
        PluginError: ``P203`` when no such name exists (with the closest names), ``P202`` when two
            distributions claim it.
    """
    matches = [e for e in entries(kind) if e.name == name]
    if not matches:
        raise PluginError(f"no {kind} stage is registered as {name!r}.", code="P203",
                          hint=did_you_mean(name, [e.name for e in entries(kind)])
                          + f" Run 'qasr plugins {kind}' to list them; install the plugin that provides it.")
    if len({m.distribution for m in matches}) > 1:
        claimants = " and ".join(m.origin for m in matches)
        raise PluginError(f"{kind} stage name {name!r} is claimed by {claimants}.", code="P202",
                          hint="Uninstall one of these distributions.")
    return matches[0]


def load(kind: str, name: str) -> type[Any]:
    """Import and return the class registered as ``name`` for ``kind``.

    Raises:
        PluginError: ``P201`` if the plugin's import fails, ``P204`` if it is not a class of the right kind, plus
            the errors of :func:`find`.
    """
    local = _in_process.get((kind, name))
    return local[-1][1] if local else _load_installed(kind, name)


@cache
def _load_installed(kind: str, name: str) -> type[Any]:
    entry = find(kind, name)
    try:
        obj = _import(entry.target)
    except Exception as exc:
        raise PluginError(f"{kind} stage {name!r} from {entry.origin} failed to import: "
                          f"{type(exc).__name__}: {exc}", code="P201",
                          hint=f"Reinstall or fix {entry.distribution or 'the plugin'}; other stages are unaffected."
                          ) from exc
    _check_class(entry, obj)
    return obj


def _check_class(entry: PluginEntry, obj: Any) -> None:
    base = KINDS[entry.kind].base
    if not (inspect.isclass(obj) and issubclass(obj, base)):
        raise PluginError(f"{entry.kind} entry point {entry.name!r} ({entry.target}) from {entry.origin} is not a "
                          f"subclass of {base.__module__}.{base.__name__}.", code="P204",
                          hint="Point the entry point at a stage class.")


def _import(target: str) -> Any:
    module_name, _, attribute = target.partition(":")
    obj: Any = importlib.import_module(module_name.strip())
    for part in filter(None, attribute.strip().split(".")):
        obj = getattr(obj, part)
    return obj


def status(entry: PluginEntry) -> str:
    """``ok`` or the reason the entry cannot be used (imports the plugin)."""
    try:
        load(entry.kind, entry.name)
    except PluginError as exc:
        return f"error {exc.code}: {exc.message}"
    return "ok"
