"""What one server accepts: upload size and duration, time per request, and how many requests may wait.

Pipelines run one request at a time on a single worker thread (models are loaded once and are not shared between
threads); :class:`WorkQueue` bounds how many requests may be waiting or running, and :class:`BodyLimit` stops an
upload as soon as it passes the size limit, before it is spooled anywhere.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Limits:
    """Per-server limits.

    Attributes:
        max_upload_bytes: Largest request body (the multipart upload with its fields); larger ones get a 413.
        max_duration: Longest audio (s) a request may send; longer audio gets a 413.
        request_timeout: Seconds a request may wait and run before it gets a 504.
        max_queue: Requests waiting or running at once; one more gets a 429 with ``Retry-After``.
        retry_after: Seconds suggested in ``Retry-After`` when the queue is full or models are still loading.
    """

    max_upload_bytes: int = 200 * 1024 * 1024
    max_duration: float = 4 * 3600.0
    request_timeout: float = 3600.0
    max_queue: int = 8
    retry_after: int = 5


class QueueFull(Exception):
    """Every slot of the :class:`WorkQueue` is taken."""


class Cancelled(Exception):
    """A queued job whose request gave up (timed out) before the job started."""


class WorkQueue:
    """Runs jobs one at a time on a worker thread; at most ``capacity`` jobs wait or run.

    Args:
        capacity: Jobs waiting or running at once.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._pending = 0
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qasr-serve")

    @property
    def pending(self) -> int:
        """Jobs waiting or running now."""
        return self._pending

    async def run(self, job: Callable[[], T], timeout: float) -> T:
        """Run ``job`` on the worker thread and return its result.

        Raises:
            QueueFull: when ``capacity`` jobs are already waiting or running.
            TimeoutError: when the job has not finished within ``timeout`` seconds. A job that had not started yet
                never runs; one already running finishes (holding its slot) and its result is dropped.
        """
        with self._lock:
            if self._pending >= self._capacity:
                raise QueueFull
            self._pending += 1
        given_up = threading.Event()

        def guarded() -> T:
            if given_up.is_set():
                raise Cancelled
            return job()

        try:
            future = asyncio.get_running_loop().run_in_executor(self._pool, guarded)
        except BaseException:
            self._release()
            raise
        future.add_done_callback(lambda _: self._release())
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            given_up.set()
            future.add_done_callback(_consume)
            raise

    def _release(self) -> None:
        with self._lock:
            self._pending -= 1

    def close(self) -> None:
        """Finish the running and waiting jobs, then stop the worker."""
        self._pool.shutdown(wait=True)


def _consume(future: asyncio.Future[Any]) -> None:
    """Retrieve a dropped job's outcome so that its exception is not reported as never retrieved."""
    if not future.cancelled():
        future.exception()


class BodyLimit:
    """ASGI middleware: a request body larger than ``limit`` bytes gets a 413 with an OpenAI error body.

    A declared ``Content-Length`` over the limit is refused before anything is read; otherwise bytes are counted as
    they arrive and reading stops at the limit (the application's own response is then replaced by the 413).

    Args:
        app: The ASGI application.
        limit: Most bytes a request body may have.
    """

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        seen = 0
        exceeded = False
        refused = False

        async def counting_receive() -> dict[str, Any]:
            nonlocal seen, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                exceeded = True
                return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: dict[str, Any]) -> None:
            nonlocal refused
            if exceeded:
                if not refused:
                    refused = True
                    await self._refuse(send)
                return
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:  # the application failed reading the cut-off body: answered by the 413 below
            if not exceeded:
                raise
        if exceeded and not refused:
            await self._refuse(send)

    async def _refuse(self, send: Callable[..., Any]) -> None:
        body = json.dumps({"error": {
            "message": f"The request body is larger than this server accepts ({self.limit} bytes).",
            "type": "invalid_request_error", "param": "file", "code": "file_too_large"}}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
