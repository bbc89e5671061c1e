"""What one server accepts: upload size and duration, time per request, how many requests and seconds of audio may
wait, and how requests are gathered into batches (:mod:`qasr_plugins.serve.batching`).

:class:`BodyLimit` stops an upload as soon as it passes the size limit, before it is spooled anywhere.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Limits:
    """Per-server limits.

    Attributes:
        max_upload_bytes: Largest request body (the multipart upload with its fields); larger ones get a 413.
        max_duration: Longest audio (s) a request may send; longer audio gets a 413.
        request_timeout: Seconds a request may wait and run before it gets a 504.
        max_queue: Requests waiting or running at once; one more gets a 429 with ``Retry-After``.
        max_queued_audio: Seconds of audio waiting or running at once; a request that would pass it gets a 429 (one
            request alone is always admitted).
        retry_after: Seconds suggested in ``Retry-After`` when the queue is full or models are still loading.
        batch_window: Seconds concurrent requests for the same pipeline variant are gathered into one batch after
            the first arrives (``0``: each request runs alone).
        max_batch: Most requests in one batch.
    """

    max_upload_bytes: int = 200 * 1024 * 1024
    max_duration: float = 4 * 3600.0
    request_timeout: float = 3600.0
    max_queue: int = 8
    max_queued_audio: float = 8 * 3600.0
    retry_after: int = 5
    batch_window: float = 0.02
    max_batch: int = 8

    def __post_init__(self) -> None:
        if self.batch_window < 0 or self.max_batch < 1 or self.max_queue < 1:
            raise ValueError("batch_window must be >= 0, and max_batch and max_queue >= 1")


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
