"""What ``qasr plugins`` and ``qasr pipelines`` list of the presets and pipelines that distributions ship."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qasr_plugins.errors import PluginError
from qasr_plugins.graph import catalog


def config_rows() -> tuple[list[dict[str, Any]], list[PluginError]]:
    """One ``qasr plugins`` row per ``qasr.configs`` entry point (what it ships, or why it cannot be located), and a
    ``P206`` for each preset or pipeline name that two distributions ship."""
    groups = [catalog.PIPELINES, *catalog.preset_groups()]
    clashing = catalog.clashes(groups)
    in_conflict = {f.home.distribution for files in clashing for f in files}
    rows: list[dict[str, Any]] = []
    for entry, home in catalog.plugin_homes():
        row: dict[str, Any] = {"kind": "configs", "name": entry.name, "distribution": entry.distribution,
                               "version": entry.version, "target": entry.target}
        if isinstance(home, PluginError):
            row |= {"status": f"error {home.code}: {home.message}", "ships": []}
        else:
            row |= {"status": "conflict" if entry.distribution in in_conflict else "registered",
                    "ships": [f"{f.group}/{f.name}" for group in groups for f in catalog.home_files(home, group)]}
        rows.append(row)
    return rows, [catalog.clash_error(files) for files in clashing]


def pipeline_lines() -> tuple[list[str], list[PluginError]]:
    """``qasr pipelines``: one line per pipeline name (the one used, with its description and, unless packaged,
    where it comes from), and the errors to report: names two distributions ship, entry points not located."""
    used: dict[str, catalog.ConfigFile] = {}
    for file in catalog.config_files(catalog.PIPELINES):
        used.setdefault(file.name, file)
    lines = []
    for name, file in sorted(used.items()):
        origin = "" if file.home.distribution == catalog.PACKAGED else f"  [{file.home.origin}]"
        lines.append(f"{name:<24} {_description(file.path)}{origin}")
    errors = [catalog.clash_error(files) for files in catalog.clashes([catalog.PIPELINES])]
    errors += [home for _, home in catalog.plugin_homes() if isinstance(home, PluginError)]
    return lines, errors


def _description(path: Path) -> str:
    """The pipeline's top-level ``description:`` line (read as text: listing composes nothing)."""
    text = path.read_text(encoding="utf-8")
    return next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("description:")), "")
