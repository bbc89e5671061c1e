"""Batching across clients, the queue bounds, timeouts and shutdown of ``qasr serve``, over a fake ASR stage that
records each batch it is given and can be held inside ``process``."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

import httpx
import numpy as np
import pytest
import soundfile as sf

from qasr_plugins import Pipeline
from qasr_plugins.serve import Limits, create_app
from qasr_plugins.serve import params as serve_params
from qasr_plugins.stage import AsrInput
from qasr_plugins.testing import register_stage
from qasr_plugins.testing.fakes import FakeAsr
from qasr_plugins.types import Transcript

from .conftest import leftovers, running, serving

PIPELINE = """\
description: One fake ASR stage.
stages:
  asr: {name: serve_test.asr, fail_on: bad, words_per_second: 2.0}
graph:
  asr: {kind: asr}
"""


class RecordingAsr(FakeAsr):
    """:class:`FakeAsr` that records the uris of every batch and waits for :attr:`gate` before answering."""

    batches: ClassVar[list[list[str]]] = []
    gate: ClassVar[threading.Event] = threading.Event()

    def process(self, batch: Sequence[AsrInput]) -> list[Transcript]:
        type(self).batches.append([item.audio.uri for item in batch])
        assert type(self).gate.wait(60), "the test never opened the gate"
        return super().process(batch)


@pytest.fixture()
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    RecordingAsr.batches = []
    RecordingAsr.gate = threading.Event()
    RecordingAsr.gate.set()
    config = tmp_path / "fake.yaml"
    config.write_text(PIPELINE, encoding="utf-8")
    with register_stage("asr", "serve_test.asr", RecordingAsr):
        yield Pipeline.from_config(str(config))


def _wav(seconds: float) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(int(16_000 * seconds), dtype=np.float32), 16_000, format="WAV")
    return buffer.getvalue()


def _post(base: str, name: str, audio: bytes, **fields: str) -> httpx.Response:
    return httpx.post(f"{base}/v1/audio/transcriptions", data={"model": "fake", **fields},
                      files={"file": (name, audio)}, timeout=60)


def _words(seconds: float) -> str:
    return " ".join(f"w{i}" for i in range(int(seconds * 2)))


def _together(calls: list[Any]) -> list[httpx.Response]:
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


def _wait_for(condition: Any, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def test_concurrent_requests_share_one_process_call(pipeline: Pipeline, upload_tmp: Path) -> None:
    app = create_app({"fake": pipeline}, limits=Limits(batch_window=10.0, max_batch=3))
    with running(app) as base:
        lengths = {"one": 1.0, "two": 2.0, "three": 3.0}
        responses = _together([lambda n=n, s=s: _post(base, f"{n}.wav", _wav(s)) for n, s in lengths.items()])
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert [r.json()["text"] for r in responses] == [_words(s) for s in lengths.values()]  # each its own
    assert [sorted(batch) for batch in RecordingAsr.batches] == [["one", "three", "two"]]
    assert leftovers(upload_tmp) == []


def test_requests_arriving_while_a_batch_runs_gather_into_the_next(pipeline: Pipeline) -> None:
    RecordingAsr.gate.clear()
    limits = Limits(batch_window=0.05, max_batch=8)
    with running(create_app({"fake": pipeline}, limits=limits)) as base, ThreadPoolExecutor(3) as pool:
        first = pool.submit(_post, base, "first.wav", _wav(1.0))
        _wait_for(lambda: RecordingAsr.batches)
        later = [pool.submit(_post, base, f"{n}.wav", _wav(1.0)) for n in ("second", "third")]
        time.sleep(2.0)  # both wait past their window while the first batch holds the worker
        RecordingAsr.gate.set()
        assert [f.result().status_code for f in (first, *later)] == [200, 200, 200]
    assert [sorted(batch) for batch in RecordingAsr.batches] == [["first"], ["second", "third"]]


def test_without_a_window_each_request_runs_alone(pipeline: Pipeline) -> None:
    with running(create_app({"fake": pipeline}, limits=Limits(batch_window=0.0))) as base:
        responses = _together([lambda n=n: _post(base, f"{n}.wav", _wav(1.0)) for n in ("a", "b")])
    assert [r.status_code for r in responses] == [200, 200]
    assert sorted(RecordingAsr.batches) == [["a"], ["b"]]


def test_variants_are_batched_apart(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(serve_params.PER_REQUEST, "serve_test.asr",  # type: ignore[index]
                        serve_params.Overridable(frozenset({"language"})))
    with running(create_app({"fake": pipeline}, limits=Limits(batch_window=2.0, max_batch=8))) as base:
        calls = [lambda n=n, lang=lang: _post(base, f"{n}.wav", _wav(1.0), language=lang,
                                              response_format="verbose_json")
                 for n, lang in (("en1", "en"), ("fr1", "fr"), ("en2", "en"))]
        responses = _together(calls)
    assert [r.json()["language"] for r in responses] == ["english", "french", "english"]
    assert sorted(sorted(batch) for batch in RecordingAsr.batches) == [["en1", "en2"], ["fr1"]]


def test_a_bad_upload_fails_only_its_own_request(pipeline: Pipeline, upload_tmp: Path) -> None:
    with running(create_app({"fake": pipeline}, limits=Limits(batch_window=10.0, max_batch=3))) as base:
        responses = _together([lambda: _post(base, "good1.wav", _wav(1.0)), lambda: _post(base, "bad.wav", _wav(1.0)),
                               lambda: _post(base, "good2.wav", _wav(2.0)),
                               lambda: _post(base, "garbage.wav", b"RIFF not audio at all")])
    good1, bad, good2, garbage = responses
    assert (good1.status_code, good1.json()["text"]) == (200, _words(1.0))
    assert (good2.status_code, good2.json()["text"]) == (200, _words(2.0))
    assert bad.status_code == 500 and bad.json()["error"]["type"] == "server_error"
    assert garbage.status_code == 400 and garbage.json()["error"]["param"] == "file"
    assert sorted(RecordingAsr.batches[0]) == ["bad", "good1", "good2"]  # the failing file was in the batch
    assert leftovers(upload_tmp) == []


def _busy(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "rate_limit_exceeded" and response.headers["retry-after"] == "5"


def test_a_full_queue_is_a_429(pipeline: Pipeline) -> None:
    RecordingAsr.gate.clear()
    with running(create_app({"fake": pipeline}, limits=Limits(batch_window=0.0, max_queue=1))) as base, \
            ThreadPoolExecutor(1) as pool:
        first = pool.submit(_post, base, "first.wav", _wav(1.0))
        _wait_for(lambda: RecordingAsr.batches)
        _busy(_post(base, "second.wav", _wav(1.0)))
        RecordingAsr.gate.set()
        assert first.result().status_code == 200
        assert _post(base, "third.wav", _wav(1.0)).status_code == 200  # the slot is free again


def test_queued_audio_seconds_are_bounded(pipeline: Pipeline) -> None:
    RecordingAsr.gate.clear()
    limits = Limits(batch_window=0.0, max_queue=8, max_queued_audio=3.0)
    with running(create_app({"fake": pipeline}, limits=limits)) as base, ThreadPoolExecutor(1) as pool:
        first = pool.submit(_post, base, "first.wav", _wav(2.0))
        _wait_for(lambda: RecordingAsr.batches)
        _busy(_post(base, "second.wav", _wav(2.0)))
        RecordingAsr.gate.set()
        assert first.result().status_code == 200
    assert RecordingAsr.batches == [["first"]]


def test_a_request_past_its_time_is_a_504_and_a_queued_one_never_runs(pipeline: Pipeline) -> None:
    RecordingAsr.gate.clear()
    limits = Limits(batch_window=0.0, request_timeout=1.0)
    with running(create_app({"fake": pipeline}, limits=limits)) as base, ThreadPoolExecutor(2) as pool:
        running_one = pool.submit(_post, base, "running.wav", _wav(1.0))
        _wait_for(lambda: RecordingAsr.batches)
        queued = pool.submit(_post, base, "queued.wav", _wav(1.0))
        for response in (running_one.result(), queued.result()):
            assert response.status_code == 504 and response.json()["error"]["code"] == "timeout"
        RecordingAsr.gate.set()
        assert _post(base, "after.wav", _wav(1.0)).status_code == 200
    assert RecordingAsr.batches == [["running"], ["after"]]


def test_shutdown_finishes_the_request_in_flight(pipeline: Pipeline) -> None:
    RecordingAsr.gate.clear()
    with serving(create_app({"fake": pipeline})) as (base, server), ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(_post, base, "late.wav", _wav(1.0))
        _wait_for(lambda: RecordingAsr.batches)
        server.should_exit = True
        time.sleep(0.5)  # uvicorn is shutting down, waiting for the request
        RecordingAsr.gate.set()
        response = in_flight.result()
    assert response.status_code == 200 and response.json()["text"] == _words(1.0)


def test_logprobs_need_a_stage_that_records_them(pipeline: Pipeline) -> None:
    with running(create_app({"fake": pipeline})) as base:
        refused = _post(base, "a.wav", _wav(1.0), **{"include[]": "logprobs"})
        wrong_format = _post(base, "a.wav", _wav(1.0), response_format="text", **{"include[]": "logprobs"})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "include[]"
    assert wrong_format.status_code == 400 and wrong_format.json()["error"]["param"] == "include[]"


@pytest.mark.parametrize("limits", [{"max_batch": 0}, {"batch_window": -0.1}, {"max_queue": 0}])
def test_limits_that_could_serve_nothing_are_refused(limits: dict) -> None:
    with pytest.raises(ValueError, match="max_batch"):
        Limits(**limits)
