"""A real server on a loopback port for the ``qasr serve`` tests (uvicorn in a thread), and clients for it."""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("openai")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running(app: Any, *, ready_within: float = 120.0) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 until the block ends; yields its base URL once ``/ready`` answers 200."""
    with serving(app, ready_within=ready_within) as (base, _):
        yield base


@contextmanager
def serving(app: Any, *, ready_within: float = 120.0) -> Iterator[tuple[str, Any]]:
    """:func:`running`, yielding the base URL and the ``uvicorn.Server`` (to shut it down inside the block)."""
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + ready_within
    try:
        while True:
            try:
                if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not become ready"
            time.sleep(0.1)
        yield base, server
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        assert not thread.is_alive(), "the server did not shut down"


@pytest.fixture(scope="session")
def upload_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The temporary directory uploads go to during these tests (checked empty after each request)."""
    folder = tmp_path_factory.mktemp("server-tmp")
    previous = tempfile.tempdir
    tempfile.tempdir = str(folder)
    try:
        yield folder
    finally:
        tempfile.tempdir = previous


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("qasr-serve-"))
