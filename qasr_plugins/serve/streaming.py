"""Streamed responses (``stream=true``): transcript deltas while the pipeline runs, then the final events.

As the pipeline's stages report partial transcripts of the request's recording (the ASR stage, as its pieces finish
decoding, :mod:`qasr_plugins.partials`), each one that continues the text sent so far is sent as a
``transcript.text.delta``; when the document is done, the rest follows (:func:`~qasr_plugins.serve.formats.stream_events`:
the remaining text, ``diarized_json``'s segment events with speakers, ``transcript.text.done``). A request that
fails before any progress is answered with its plain HTTP error; one that fails later ends its stream with an
``error`` event.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

from sse_starlette import EventSourceResponse

from qasr_plugins.document import ResultDocument
from qasr_plugins.serve import formats
from qasr_plugins.serve.batching import JobListener
from qasr_plugins.serve.params import OpenAIError

#: Starts the request's run with a listener for its partial outputs.
Start = Callable[[JobListener], Awaitable[Any]]
#: Awaits the run and gives its document, or raises the :class:`OpenAIError` it answers with.
Finish = Callable[[Awaitable[Any]], Awaitable[ResultDocument]]


async def streamed(start: Start, finish: Finish, response_format: str,
                   done: Callable[[], None] | None = None) -> EventSourceResponse:
    """The response of a streamed request, sent from its first progress on; ``done`` is called when the run ends
    (whether or not the client is still there), e.g. to remove the request's files."""
    loop = asyncio.get_running_loop()
    partials: asyncio.Queue[Any] = asyncio.Queue()
    run = asyncio.ensure_future(start(lambda _node, partial: loop.call_soon_threadsafe(partials.put_nowait, partial)))
    run.add_done_callback(_retrieve)
    if done is not None:
        run.add_done_callback(lambda _: done())
    first = asyncio.ensure_future(partials.get())
    await asyncio.wait({run, first}, return_when=asyncio.FIRST_COMPLETED)
    if not first.done():  # finished (or failed) before any progress: a failure is a plain HTTP error
        first.cancel()
        document = await finish(run)
        return _response(_final(document, response_format, ""))
    return _response(_events(run, partials, first.result(), finish, response_format))


def _response(events: AsyncIterator[dict[str, Any]] | Iterable[dict[str, Any]]) -> EventSourceResponse:
    return EventSourceResponse(events, ping=None)


def _final(document: ResultDocument, response_format: str, sent: str) -> list[dict[str, str]]:
    return [_event(e) for e in formats.stream_events(document, response_format, sent)]


async def _events(run: asyncio.Future[Any], partials: asyncio.Queue[Any], first: Any, finish: Finish,
                  response_format: str) -> AsyncIterator[dict[str, str]]:
    sent = ""
    pending = [first]
    while pending or not run.done():
        for partial in pending:
            delta = formats.partial_delta(partial, sent)
            if delta:
                sent += delta
                yield _event({"type": "transcript.text.delta", "delta": delta})
        pending = []
        while not partials.empty():
            pending.append(partials.get_nowait())
        if pending or run.done():
            continue
        waiting = asyncio.ensure_future(partials.get())
        try:
            await asyncio.wait({run, waiting}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not waiting.done():
                waiting.cancel()
        if waiting.done() and not waiting.cancelled():
            pending.append(waiting.result())
    try:
        document = await finish(run)
    except OpenAIError as exc:
        yield _event({"type": "error", "error": exc.body()["error"]})
        return
    for event in _final(document, response_format, sent):
        yield event


def _event(payload: dict[str, Any]) -> dict[str, str]:
    return {"data": json.dumps(payload, ensure_ascii=False)}


def _retrieve(run: asyncio.Future[Any]) -> None:
    """Retrieve the run's exception, so that a stream whose client left does not log it as never retrieved."""
    if not run.cancelled():
        run.exception()
