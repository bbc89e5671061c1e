"""Batching across clients: concurrent requests for the same pipeline variant share one ``Executor.process`` call.

A request's decoded audio joins the open group of its variant (the served pipeline with the request's settings);
the group is ready when its gathering window ends or it holds ``max_batch`` requests, and ready groups run one at a
time, in order, on a single worker thread (models are loaded once and not shared between threads), so the ASR stage
and the aligner decode the pieces of several requests in one batch. A ready group keeps taking requests of its
variant until it starts or is full, so under load batches grow while the worker is busy. The executor isolates a
failing recording, so one bad upload fails only its own request. A request may listen to its recording's partial
outputs (a streamed response).
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from qasr_plugins.document import ResultDocument
from qasr_plugins.errors import QasrError, StageError
from qasr_plugins.executor import Executor, PartialListener
from qasr_plugins.types import Audio

Outcome = ResultDocument | QasrError


class QueueFull(Exception):
    """The server holds as many requests, or as many seconds of audio, as it may; retry later."""


class Cancelled(Exception):
    """A queued request that gave up (timed out) before its batch started: it never runs."""


#: Called on the worker thread with (node name, partial output) as the pipeline reports progress on one request.
JobListener = Callable[[str, Any], None]


@dataclass(frozen=True)
class _Job:
    audio: Audio
    future: asyncio.Future[Outcome]
    given_up: threading.Event = field(default_factory=threading.Event)
    on_partial: JobListener | None = None


@dataclass(eq=False)
class _Group:
    """The requests gathering for one variant, and the timer that dispatches them."""

    executor: Executor
    jobs: list[_Job] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None


def process_together(executor: Executor, audios: list[Audio],
                     listeners: Sequence[JobListener | None] | None = None) -> list[Outcome]:
    """``executor.process(audios)``; when that raises (not a stage failure, which it isolates itself), each audio
    alone, so that only the audio that fails gets the error. ``listeners``, one per audio, get its partial
    outputs."""
    chosen = listeners or [None] * len(audios)

    def relay(offset: int) -> PartialListener | None:
        if not any(chosen):
            return None

        def to_listener(index: int, node: str, partial: Any) -> None:
            if (listener := chosen[offset + index]) is not None:
                listener(node, partial)
        return to_listener

    try:
        return executor.process(audios, on_partial=relay(0))
    except Exception as exc:  # noqa: BLE001 - retried one by one below
        if len(audios) == 1 or exc is executor.load_failure:
            return [_coded(exc)] * len(audios)
    results: list[Outcome] = []
    for offset, audio in enumerate(audios):
        try:
            results.extend(executor.process([audio], on_partial=relay(offset)))
        except Exception as exc:  # noqa: BLE001 - this audio's error only
            results.append(_coded(exc))
    return results


def _coded(exc: Exception) -> QasrError:
    if isinstance(exc, QasrError):
        return exc
    return StageError(f"unexpected error while processing this audio: {type(exc).__name__}: {exc}", code="S408")


def _run(executor: Executor, jobs: list[_Job]) -> list[Outcome | None]:
    """On the worker thread: the live jobs' outcomes; ``None`` for a job whose request gave up before the start."""
    live = [i for i, job in enumerate(jobs) if not job.given_up.is_set()]
    outcomes: list[Outcome | None] = [None] * len(jobs)
    if live:
        outcomes_live = process_together(executor, [jobs[i].audio for i in live], [jobs[i].on_partial for i in live])
        for index, outcome in zip(live, outcomes_live, strict=True):
            outcomes[index] = outcome
    return outcomes


class Batcher:
    """Gathers requests into batches per variant and runs the batches one at a time.

    Args:
        window: Seconds a group gathers after its first request (``0``: every request runs alone).
        max_batch: Most requests in one batch; a full group is dispatched at once.
        max_requests: Requests waiting or running at once; one more is refused with :class:`QueueFull`.
        max_seconds: Seconds of audio waiting or running at once; a request that would pass it is refused (unless
            nothing else is queued).
    """

    def __init__(self, window: float, max_batch: int, max_requests: int, max_seconds: float) -> None:
        self.window, self.max_batch = window, max_batch
        self.max_requests, self.max_seconds = max_requests, max_seconds
        self._groups: dict[Hashable, _Group] = {}  # per variant, the group still taking requests
        self._ready: deque[_Group] = deque()
        self._running: asyncio.Future[Any] | None = None
        self._pending = 0
        self._seconds = 0.0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qasr-serve")

    @property
    def pending(self) -> int:
        """Requests waiting or running now."""
        return self._pending

    @property
    def queued_seconds(self) -> float:
        """Seconds of audio waiting or running now."""
        return self._seconds

    def admit(self, duration: float = 0.0) -> None:
        """Raise :class:`QueueFull` when one more request of ``duration`` seconds would pass a bound."""
        if self._pending >= self.max_requests or (self._pending and self._seconds + duration > self.max_seconds):
            raise QueueFull

    async def run(self, key: Hashable, executor: Executor, audio: Audio, timeout: float,
                  on_partial: JobListener | None = None) -> Outcome:
        """Transcribe ``audio`` with ``executor``, batched with the other requests of ``key`` (the variant);
        ``on_partial`` gets this request's partial outputs on the worker thread as stages report them.

        Raises:
            QueueFull: when the queue holds ``max_requests`` requests or would pass ``max_seconds`` of audio.
            TimeoutError: when the outcome is not known within ``timeout`` seconds. A request whose batch had not
                started never runs; a running one finishes with its batch and its outcome is dropped.
        """
        self.admit(audio.duration)
        loop = asyncio.get_running_loop()
        job = _Job(audio, loop.create_future(), on_partial=on_partial)
        self._pending += 1
        self._seconds += audio.duration
        job.future.add_done_callback(lambda _: self._release(audio.duration))
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group(executor)
            if self.window > 0:
                group.timer = loop.call_later(self.window, self._ready_up, key)
        group.jobs.append(job)
        if len(group.jobs) >= self.max_batch:
            del self._groups[key]
        if self.window <= 0 or len(group.jobs) >= self.max_batch:
            self._make_ready(group)
        self._start_next()
        try:
            return await asyncio.wait_for(asyncio.shield(job.future), timeout)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            job.given_up.set()
            job.future.add_done_callback(_consume)
            raise

    def _release(self, duration: float) -> None:
        self._pending -= 1
        self._seconds = max(0.0, self._seconds - duration)

    def _ready_up(self, key: Hashable) -> None:
        """The gathering window of ``key``'s open group has ended."""
        if (group := self._groups.get(key)) is not None:
            self._make_ready(group)
            self._start_next()

    def _make_ready(self, group: _Group) -> None:
        if group.timer is not None:
            group.timer.cancel()
            group.timer = None
        if group not in self._ready:
            self._ready.append(group)

    def _start_next(self) -> None:
        """Start the first ready group on the worker when no batch is running."""
        if self._running is not None or not self._ready:
            return
        group = self._ready.popleft()
        for key, open_group in list(self._groups.items()):
            if open_group is group:
                del self._groups[key]
        self._running = work = asyncio.get_running_loop().run_in_executor(self._pool, _run, group.executor,
                                                                          group.jobs)
        work.add_done_callback(lambda done: self._finished(group, done))

    def _finished(self, group: _Group, done: asyncio.Future[list[Outcome | None]]) -> None:
        self._running = None
        _settle(group.jobs, done)
        self._start_next()

    async def close(self) -> None:
        """Start the gathering groups, let every batch finish, then stop the worker."""
        for group in list(self._groups.values()):
            self._make_ready(group)
        self._start_next()
        while self._running is not None:
            await asyncio.wait({self._running})
            await asyncio.sleep(0)  # let the done callback start the next batch
        await asyncio.get_running_loop().run_in_executor(None, self._pool.shutdown, True)


def _settle(jobs: list[_Job], done: asyncio.Future[list[Outcome | None]]) -> None:
    """Hand each request its outcome (the batch's own failure, should ``_run`` raise, to every request)."""
    failure = done.exception()
    outcomes = [None] * len(jobs) if failure else done.result()
    for job, outcome in zip(jobs, outcomes, strict=True):
        if job.future.done():
            continue
        if failure is not None:
            job.future.set_exception(failure)
        elif outcome is None:
            job.future.set_exception(Cancelled())
        else:
            job.future.set_result(outcome)


def _consume(future: asyncio.Future[Any]) -> None:
    """Retrieve a dropped request's outcome so that its exception is not reported as never retrieved."""
    if not future.cancelled():
        future.exception()
