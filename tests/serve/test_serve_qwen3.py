"""``qasr serve`` over ``qwen3_asr`` with a tiny scripted checkpoint and an energy VAD: per-request language and
prompt reach the stage, and a bounded schemathesis run over the OpenAPI schema finds no 5xx."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf

from qasr_plugins import Pipeline
from qasr_plugins.serve import Limits, create_app

from .conftest import leftovers, running

pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def wav() -> bytes:
    rate = 16_000
    t = np.arange(rate * 4) / rate
    tone = (0.3 * np.sin(2 * np.pi * 220 * t) * ((t > 1.0) & (t < 3.0))).astype(np.float32)
    buffer = io.BytesIO()
    sf.write(buffer, tone, rate, format="WAV")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, upload_tmp: Path) -> Iterator[str]:
    from qasr_plugins.qwen3.tiny import build_scripted

    checkpoint = build_scripted(tmp_path_factory.mktemp("scripted") / "checkpoint",
                                "language English<asr_text>hello world")
    pipeline = Pipeline.from_config("qwen3_asr", [f"stages.asr.model={checkpoint}", "stages/vad=energy",
                                                  "stages.asr.max_new_tokens=16"])
    with running(create_app({"tiny": pipeline}, limits=Limits(max_duration=30.0, max_upload_bytes=1 << 20))) as url:
        yield url


def test_openai_client_on_qwen3(base: str, wav: bytes, upload_tmp: Path) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0, timeout=60)
    result = client.audio.transcriptions.create(model="tiny", file=("tone.wav", wav), response_format="verbose_json")
    assert result.text == "hello world" and result.language == "english"
    forced = client.audio.transcriptions.create(model="tiny", file=("tone.wav", wav), language="fr",
                                                prompt="hello", response_format="verbose_json")
    assert forced.language == "french"  # the request's language reached the stage
    scored = client.audio.transcriptions.create(model="tiny", file=("tone.wav", wav), include=["logprobs"])
    assert scored.text == "hello world" and scored.logprobs
    assert all(t.logprob <= 0 and bytes(int(b) for b in t.bytes) == t.token.encode() for t in scored.logprobs)
    assert "".join(t.token for t in scored.logprobs).strip() == "hello world"
    events = list(client.audio.transcriptions.create(model="tiny", file=("tone.wav", wav), stream=True))
    assert events[-1].type == "transcript.text.done" and events[-1].text == "hello world"
    assert leftovers(upload_tmp) == []


@pytest.mark.parametrize(("fields", "param"), [
    ({"language": "Klingon"}, "language"),
    ({"response_format": "diarized_json"}, "response_format"),  # no diarization in this pipeline
    ({"response_format": "verbose_json", "timestamp_granularities[]": "word"}, "timestamp_granularities[]"),
    ({"chunking_strategy": '{"type": "server_vad", "threshold": 0.4}'}, "chunking_strategy[threshold]"),
])
def test_refusals(base: str, wav: bytes, fields: dict, param: str) -> None:
    response = httpx.post(f"{base}/v1/audio/transcriptions", data={"model": "tiny", **fields},
                          files={"file": ("tone.wav", wav)}, timeout=60)
    assert response.status_code == 400 and response.json()["error"]["param"] == param, response.text


def test_energy_vad_settings_per_request(base: str, wav: bytes) -> None:
    response = httpx.post(f"{base}/v1/audio/transcriptions", files={"file": ("tone.wav", wav)}, timeout=60,
                          data={"model": "tiny", "chunking_strategy[type]": "server_vad",
                                "chunking_strategy[silence_duration_ms]": "500",
                                "chunking_strategy[prefix_padding_ms]": "100"})
    assert response.status_code == 200 and response.json()["text"] == "hello world"


def test_fuzzing_finds_no_server_error(base: str, upload_tmp: Path) -> None:
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from schemathesis.checks import not_a_server_error

    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    cases = st.one_of([operation.as_strategy() for operation in operations])

    @given(case=cases)
    @settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def fuzz(case) -> None:
        case.call_and_validate(checks=[not_a_server_error], timeout=30)

    fuzz()
    assert leftovers(upload_tmp) == []
