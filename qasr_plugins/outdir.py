"""The output directory of a run: checked before any model loads, so a bad ``-o`` costs nothing."""

from __future__ import annotations

import os
from pathlib import Path

from qasr_plugins.errors import OutputError

#: Trees of virtual files: nothing written there is a file a later run (or a person) can read back.
VIRTUAL_TREES = (Path("/proc"), Path("/sys"), Path("/dev"))


def check_output_dir(path: str | os.PathLike[str]) -> Path:
    """Return ``path`` when it is, or can be created as, a writable directory on a real file system.

    Nothing is created. The nearest existing folder decides whether the rest can be made.

    Raises:
        OutputError: ``O505`` for an existing file (``/dev/null`` included), a path below a file, one under
            ``/proc``, ``/sys`` or ``/dev``, or one whose nearest existing folder is not writable.
    """
    given = Path(path)

    def refuse(message: str) -> OutputError:
        return OutputError(message, where=str(given), code="O505", hint="Choose a writable directory with -o DIR.")

    try:
        resolved = given.resolve()
    except (OSError, RuntimeError) as exc:  # a symbolic link loop
        raise refuse(f"cannot be resolved ({exc}).") from exc
    if any(resolved == tree or tree in resolved.parents for tree in VIRTUAL_TREES):
        raise refuse("lies in a virtual file system (/proc, /sys, /dev), not a directory for outputs.")
    existing = resolved
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise refuse("is an existing file, not a directory." if existing == resolved
                     else f"lies below the file {existing}, which cannot hold a directory.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise refuse(f"cannot be written: {existing} is not writable.")
    return given
