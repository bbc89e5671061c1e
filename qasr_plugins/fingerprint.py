"""Identities of the local files a stage reads (model checkpoints, reference clips), for the stage cache.

A file is known by its resolved path, size and modification time (reading gigabytes of weights on every run to hash
them would cost more than most stages); a directory by those of every file under it. A hub id is not a local file:
its identity is the id and revision in the stage's settings, so pin ``revision`` for an exact one.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

MAX_FILES = 10_000
"""Files of a directory taken into its identity; beyond this the directory is known by its first files' names."""


def path_identity(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """``{"path", "size", "mtime_ns"}`` of a file, ``{"path", "files": [...]}`` of a directory (relative names,
    sizes, times; hidden entries skipped), or ``None`` when ``path`` is neither."""
    target = Path(path).expanduser()
    try:
        resolved = target.resolve()
        if resolved.is_file():
            stat = resolved.stat()
            return {"path": str(resolved), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        if resolved.is_dir():
            return {"path": str(resolved), "files": _tree(resolved)}
    except OSError:  # unreadable, a loop of links, a name too long: not a file this stage reads
        return None
    return None


def _tree(root: Path) -> list[tuple[str, int, int]]:
    found: list[tuple[str, int, int]] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith(".") or len(found) >= MAX_FILES:
                continue
            try:
                stat = os.stat(os.path.join(folder, name))
            except OSError:
                continue
            found.append((os.path.relpath(os.path.join(folder, name), root), stat.st_size, stat.st_mtime_ns))
    return found


def settings_files(values: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """The identity of every setting value that names an existing local file or directory, by the value; strings
    nested in lists and mappings count too."""
    found: dict[str, dict[str, Any]] = {}
    for text in _strings(values):
        if text and len(text) < 4096 and text not in found and (identity := path_identity(text)) is not None:
            found[text] = identity
    return found


def _strings(values: Iterable[Any]) -> Iterable[str]:
    for value in values:
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            yield from _strings(value.values())
        elif isinstance(value, list | tuple):
            yield from _strings(value)
