"""One run at a time per output directory, and what killed runs left behind cleared away.

A run holds an exclusive ``fcntl.flock`` on ``DIR/.qasr/lock`` while it writes. A second run on the same directory
is refused at once (``O504``) instead of doing every file twice. The system releases the lock when its process
ends however it ends (``kill -9`` included), so a killed run's lock never blocks the next one. Holding the lock, a
run removes the temporary files of :func:`~qasr_plugins.atomic.write_atomic` (their exact name pattern only) left
anywhere under ``DIR`` by a killed run: no live run can be writing them. While it runs, SIGTERM stops it as SIGINT
does (:func:`interruptible`), so either way it writes its summary before it exits.
"""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from qasr_plugins.atomic import TEMP_NAME
from qasr_plugins.errors import OutputError

STATE_DIR = ".qasr"
"""The run's own files inside the output directory (the lock, completion records)."""
LOCK_FILE = "lock"


def clear_orphans(output_dir: Path) -> int:
    """Remove every temporary file of an interrupted atomic write under ``output_dir``; return how many.

    Only call it holding the directory's lock (:func:`claim`). Symbolic links to directories are not followed.
    """
    removed = 0
    for folder, _, names in os.walk(output_dir):
        for name in names:
            if TEMP_NAME.match(name):
                Path(folder, name).unlink(missing_ok=True)
                removed += 1
    return removed


@contextmanager
def claim(output_dir: Path) -> Iterator[int]:
    """Hold ``output_dir`` for one run; yield how many orphaned temporary files were removed on taking it.

    Raises:
        OutputError: ``O504`` when another live run holds it, ``O501`` when its lock file cannot be made.
    """
    lock = output_dir / STATE_DIR / LOCK_FILE
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise OutputError(f"cannot create the run lock: {exc.strerror or exc}.", where=str(lock), code="O501",
                          hint="Check the output directory is writable.") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "unknown"
            raise OutputError(f"another qasr run ({holder}) is writing to this output directory.",
                              where=str(output_dir), code="O504",
                              hint="Wait for it to finish or choose another -o DIR; a killed run never holds it.")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        yield clear_orphans(output_dir)
    finally:
        os.close(fd)


@contextmanager
def interruptible() -> Iterator[list[str]]:
    """While inside, SIGINT and SIGTERM both raise :class:`KeyboardInterrupt` (in the main thread; elsewhere
    signals are left alone). Yields a list the name of each signal received is appended to."""
    received: list[str] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def stop(signum: int, frame: object) -> None:
        received.append(signal.Signals(signum).name)
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
