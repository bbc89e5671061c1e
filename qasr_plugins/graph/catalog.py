"""Where pipelines and stage presets come from: the user's directories, plugins, then qasr's own.

A name is looked up in this order, and the first place that has it wins:

1. each directory on ``QASR_CONFIG_PATH`` (``<dir>/stages/<kind>/<name>.yaml``, ``<dir>/pipelines/<name>.yaml``):
   the user's own, which may shadow any other name on purpose;
2. each ``qasr.configs`` entry point of an installed distribution (by distribution name), naming a package that
   holds ``stages/<kind>/`` and/or ``pipelines/``;
3. the ones packaged with qasr (``qasr_plugins.configs``, ``qasr_plugins.pipelines``).

Like stage names, preset and pipeline names are shared by every distribution: when two distributions (qasr-plugins
among them) ship the same one, using it is a ``P206`` naming both, unless a user directory provides it.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from qasr_plugins import registry
from qasr_plugins.errors import PluginError
from qasr_plugins.registry import PluginEntry
from qasr_plugins.stage import NODE_KINDS

USER_CONFIG_PATH_ENV = "QASR_CONFIG_PATH"
#: The group of pipelines; presets are in ``stages/<kind>``.
PIPELINES = "pipelines"
PACKAGED = "qasr-plugins"


@dataclass(frozen=True)
class ConfigHome:
    """One place presets and pipelines are looked up.

    Attributes:
        root: The entry of Hydra's search path: presets are ``root/stages/<kind>/<name>.yaml``.
        pipelines: The directory of its pipelines (``<name>.yaml``).
        origin: How listings and errors name it: a directory, or a distribution and its version.
        distribution: The distribution that ships it; ``None`` for a user directory.
    """

    root: Path
    pipelines: Path
    origin: str
    distribution: str | None


@dataclass(frozen=True)
class ConfigFile:
    """A preset or a pipeline, and where it was found.

    Attributes:
        group: ``pipelines``, or ``stages/<kind>`` for a preset.
        name: The name configs and commands use (the file's stem).
        path: The YAML file.
        home: Where it was found.
    """

    group: str
    name: str
    path: Path
    home: ConfigHome

    @property
    def label(self) -> str:
        """``pipeline 'vad'`` or ``vad preset 'silero'``."""
        return f"pipeline {self.name!r}" if self.group == PIPELINES else f"{self.group[7:]} preset {self.name!r}"


def packaged_pipelines_dir() -> Path:
    return Path(str(resources.files("qasr_plugins.pipelines")))


def packaged_configs_dir() -> Path:
    return Path(str(resources.files("qasr_plugins.configs")))


def plugin_homes() -> list[tuple[PluginEntry, ConfigHome | PluginError]]:
    """Each installed ``qasr.configs`` entry point with its package directory, or with the ``P201``/``P207`` saying
    why it cannot be located (composition skips those; listings report them)."""
    homes: list[tuple[PluginEntry, ConfigHome | PluginError]] = []
    for entry in registry.config_entries():
        try:
            root = registry.config_dir(entry)
        except PluginError as exc:
            homes.append((entry, exc))
            continue
        homes.append((entry, ConfigHome(root, root / PIPELINES, f"{entry.origin} (qasr.configs: {entry.name})",
                                        entry.distribution)))
    return homes


def config_homes() -> list[ConfigHome]:
    """Every place presets and pipelines come from, in search order: user directories, plugins, packaged."""
    users = [ConfigHome(Path(p), Path(p) / PIPELINES, p, None)
             for p in os.environ.get(USER_CONFIG_PATH_ENV, "").split(os.pathsep) if p]
    try:
        version = metadata.version(PACKAGED)
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        version = ""
    packaged = ConfigHome(packaged_configs_dir(), packaged_pipelines_dir(), f"{PACKAGED} {version}".strip(),
                          PACKAGED)
    return [*users, *(home for _, home in plugin_homes() if isinstance(home, ConfigHome)), packaged]


def config_files(group: str) -> list[ConfigFile]:
    """Every preset of ``group`` (``stages/<kind>``) or every pipeline (``pipelines``), in search order; a name
    may appear more than once (the first is the one used)."""
    return [file for home in config_homes() for file in home_files(home, group)]


def home_files(home: ConfigHome, group: str) -> list[ConfigFile]:
    """The presets of ``group`` (``stages/<kind>``), or the pipelines (``pipelines``), that ``home`` holds."""
    directory = home.pipelines if group == PIPELINES else home.root / group
    return [ConfigFile(group, path.stem, path, home) for path in sorted(directory.glob("*.yaml"))]


def preset_groups() -> list[str]:
    """``stages/<kind>`` for every kind a graph node can have."""
    return [f"stages/{kind}" for kind in NODE_KINDS]


def find_config(group: str, name: str) -> ConfigFile | None:
    """The preset or pipeline ``name`` of ``group`` that composition uses, ``None`` when there is none.

    Raises:
        PluginError: ``P206`` when two distributions ship it and no user directory does.
    """
    found = [f for f in config_files(group) if f.name == name]
    if found and found[0].home.distribution is not None and len({f.home.distribution for f in found}) > 1:
        raise clash_error(found)
    return found[0] if found else None


def clashes(groups: Collection[str]) -> list[list[ConfigFile]]:
    """The names of ``groups`` that two distributions ship and no user directory shadows, each with its files."""
    found: list[list[ConfigFile]] = []
    for group in groups:
        by_name: dict[str, list[ConfigFile]] = {}
        for file in config_files(group):
            by_name.setdefault(file.name, []).append(file)
        found += [files for files in by_name.values()
                  if files[0].home.distribution is not None and len({f.home.distribution for f in files}) > 1]
    return found


def clash_error(files: list[ConfigFile]) -> PluginError:
    """The ``P206`` for one name shipped by several distributions (``files``, in search order)."""
    origins = " and ".join(dict.fromkeys(f.home.origin for f in files if f.home.distribution is not None))
    return PluginError(f"{files[0].label} is shipped by {origins}.", where=f"{files[0].group}/{files[0].name}",
                       code="P206", hint="Uninstall one of these distributions, or copy the one you want into a "
                       f"directory on {USER_CONFIG_PATH_ENV} (searched first).")


def check_chosen_presets(choices: Mapping[str, Any], swapped: Collection[str]) -> None:
    """Refuse a preset Hydra chose (``{"stages/diarization@stages.diar": "embedded"}``) that two distributions ship,
    unless its settings key was swapped for a registered stage (``swapped``: ``stages.diar``) and it is unused.

    Raises:
        PluginError: ``P206`` naming both distributions.
    """
    for choice, option in choices.items():
        group, _, package = choice.partition("@")
        if group.startswith("stages/") and isinstance(option, str) and (package or group.replace("/", ".")) \
                not in swapped:
            find_config(group, option)
