"""Streamed responses send the transcript while the pipeline still runs: deltas as the ASR stage reports partial
transcripts, then the final events; a failure before any progress is a plain HTTP error, one after it an
``error`` event."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import ClassVar

import httpx
import numpy as np
import pytest
import soundfile as sf

from qasr_plugins import Pipeline
from qasr_plugins.partials import report_partial
from qasr_plugins.serve import create_app
from qasr_plugins.stage import AsrInput
from qasr_plugins.testing import register_stage
from qasr_plugins.testing.fakes import FakeAsr
from qasr_plugins.types import Span, Transcript, TranscriptSegment

from .conftest import running

PIPELINE = """\
description: One fake ASR stage that reports its progress.
stages:
  asr: {name: stream_test.asr, fail_on: broken}
graph:
  asr: {kind: asr}
"""
TEXTS = ("one two", "three four", "five six")


class ProgressiveAsr(FakeAsr):
    """Three segments per recording, reported one more at a time; after the first report it waits until the test
    says the client has seen it (:attr:`seen`), or 30 s. A recording named ``late_failure`` fails after the first
    report."""

    seen: ClassVar[threading.Event] = threading.Event()
    waited: ClassVar[list[bool]] = []

    def process(self, batch: Sequence[AsrInput]) -> list[Transcript]:
        if any("broken" in item.audio.uri for item in batch):
            return super().process(batch)  # fails before any progress
        out = []
        for index, item in enumerate(batch):
            third = item.audio.duration / 3
            segments = tuple(TranscriptSegment(Span(item.audio.offset + k * third, item.audio.offset + (k + 1) * third),
                                               text, "en") for k, text in enumerate(TEXTS))
            for count in range(1, len(segments) + 1):
                report_partial(index, Transcript(item.audio.uri, segments[:count]))
                if count == 1:
                    type(self).waited.append(type(self).seen.wait(30))
                    if "late_failure" in item.audio.uri:
                        raise RuntimeError("failed after the first piece")
            out.append(Transcript(item.audio.uri, segments))
        return out


@pytest.fixture()
def base(tmp_path: Path) -> Iterator[str]:
    ProgressiveAsr.seen = threading.Event()
    ProgressiveAsr.waited = []
    config = tmp_path / "progressive.yaml"
    config.write_text(PIPELINE, encoding="utf-8")
    with register_stage("asr", "stream_test.asr", ProgressiveAsr), \
            running(create_app({"fake": Pipeline.from_config(str(config), cache=False)})) as url:
        yield url


def _wav(seconds: float) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(int(16_000 * seconds), dtype=np.float32), 16_000, format="WAV")
    return buffer.getvalue()


def _stream(base: str, name: str, response_format: str = "json") -> tuple[int, list[dict]]:
    """The events of one streamed request; the first delta is acknowledged to the stage as it arrives."""
    events = []
    with httpx.stream("POST", f"{base}/v1/audio/transcriptions", timeout=60,
                      data={"model": "fake", "stream": "true", "response_format": response_format},
                      files={"file": (name, _wav(3.0))}) as response:
        if response.status_code != 200:
            response.read()
            return response.status_code, [response.json()]
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[len("data: "):]))
                if events[-1]["type"] == "transcript.text.delta":
                    ProgressiveAsr.seen.set()
    return 200, events


@pytest.mark.parametrize("response_format", ["json", "text"])
def test_deltas_arrive_while_the_stage_still_runs(base: str, response_format: str) -> None:
    status, events = _stream(base, "meeting.wav", response_format)
    assert status == 200 and ProgressiveAsr.waited == [True]  # the stage was still running when the client saw it
    deltas = [e["delta"] for e in events if e["type"] == "transcript.text.delta"]
    assert deltas[0] == "one two" and "".join(deltas) == " ".join(TEXTS)
    assert events[-1] == {"type": "transcript.text.done", "text": " ".join(TEXTS)}


def test_the_openai_client_reads_the_stream(base: str) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0, timeout=60)
    seen = []
    for event in client.audio.transcriptions.create(model="fake", file=("talk.wav", _wav(3.0)), stream=True):
        seen.append(event)
        if event.type == "transcript.text.delta":
            ProgressiveAsr.seen.set()
    assert ProgressiveAsr.waited == [True] and seen[-1].type == "transcript.text.done"
    assert "".join(e.delta for e in seen if e.type == "transcript.text.delta") == seen[-1].text


def test_a_failure_before_any_progress_is_a_plain_error(base: str) -> None:
    status, (body,) = _stream(base, "broken.wav")
    assert status == 500 and body["error"]["type"] == "server_error"


def test_a_failure_after_progress_ends_the_stream_with_an_error_event(base: str) -> None:
    status, events = _stream(base, "late_failure.wav")
    assert status == 200 and events[0] == {"type": "transcript.text.delta", "delta": "one two"}
    assert events[-1]["type"] == "error" and "failed after the first piece" in events[-1]["error"]["message"]
