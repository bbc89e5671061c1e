"""Atomic file writes: a reader (or a rerun after a kill) never sees a half-written output.

Content goes to a temporary file beside the target, named ``.<target name>.qasr-<8 hex>.part`` (:data:`TEMP_NAME`
matches exactly these and nothing else), is flushed to disk and renamed into place. The temporary file is created
with mode ``0o666`` so the user's umask applies, as for any file a program creates.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from qasr_plugins.errors import OutputError

TEMP_NAME = re.compile(r"^\.(?P<target>.+)\.qasr-[0-9a-f]{8}\.part$")
"""The name of a temporary file :func:`write_atomic` makes; ``target`` is the name it is renamed to."""


def _create_temp(path: Path) -> tuple[int, Path]:
    """Create and open a new temporary file beside ``path`` (never an existing one)."""
    while True:
        tmp = path.with_name(f".{path.name}.qasr-{secrets.token_hex(4)}.part")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue


def write_atomic(path: str | Path, content: str | bytes) -> Path:
    """Write ``content`` to a temporary file beside ``path``, flush it to disk, then rename it into place.

    Raises:
        OutputError: ``O501`` when it cannot be written (the target is left as it was, no temporary file stays).
    """
    path = Path(path)
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _create_temp(path)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise OutputError(f"cannot write: {exc.strerror or exc}.", where=str(path), code="O501",
                          hint="Check the output directory exists, is writable and has free space.") from exc
    return path
