"""``qasr serve`` over the bundled offline pipeline on pyannote's two-speaker sample, driven by the real ``openai``
client: every response format and streaming give what ``Pipeline.from_config("offline")`` gives directly."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from bundled_models import require_offline

from qasr_plugins import Pipeline
from qasr_plugins.document import ResultDocument
from qasr_plugins.serve import Limits, create_app
from qasr_plugins.serve.formats import speaker_labels

from .conftest import leftovers, running

require_offline()
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def offline() -> Pipeline:
    return Pipeline.from_config("offline").load()


@pytest.fixture(scope="module")
def direct(offline: Pipeline, sample_wav: Path) -> ResultDocument:
    return offline(sample_wav)


@pytest.fixture(scope="module")
def base(offline: Pipeline, upload_tmp: Path) -> Iterator[str]:
    app = create_app({"offline": offline}, limits=Limits(max_duration=60.0, max_upload_bytes=4 * 1024 * 1024),
                     api_key="sk-test")
    with running(app) as url:
        yield url


@pytest.fixture(scope="module")
def client(base: str):
    from openai import OpenAI

    return OpenAI(base_url=f"{base}/v1", api_key="sk-test", max_retries=0, timeout=120)


def _create(client, sample_wav: Path, **params):
    with sample_wav.open("rb") as audio:
        return client.audio.transcriptions.create(model="offline", file=audio, **params)


def test_models_and_health(client, base: str) -> None:
    assert [m.id for m in client.models.list()] == ["offline"]
    assert httpx.get(f"{base}/health").json() == {"status": "ok"}
    assert httpx.get(f"{base}/ready").json()["status"] == "ready"


def test_json_and_text(client, sample_wav: Path, direct: ResultDocument, upload_tmp: Path) -> None:
    assert _create(client, sample_wav).text == direct.transcript.text
    assert _create(client, sample_wav, response_format="text").strip() == direct.transcript.text
    assert leftovers(upload_tmp) == []


def test_verbose_json_words_and_segments(client, sample_wav: Path, direct: ResultDocument) -> None:
    result = _create(client, sample_wav, response_format="verbose_json", timestamp_granularities=["word", "segment"])
    expected = [w for w in direct.transcript.words() if w.span is not None]
    assert [(w.word, w.start, w.end) for w in result.words] == [(w.text, w.span.start, w.span.end) for w in expected]
    assert [s.text for s in result.segments] == [s.text for s in direct.transcript.segments]
    assert result.language == "english" and result.duration == pytest.approx(direct.audio.duration, abs=1e-3)
    only_segments = _create(client, sample_wav, response_format="verbose_json")
    assert only_segments.segments and not only_segments.words


def test_diarized_json_speakers(client, sample_wav: Path, direct: ResultDocument) -> None:
    result = _create(client, sample_wav, response_format="diarized_json")
    labels = speaker_labels(direct.transcript)
    assert sorted(set(labels.values())) == ["A", "B"]
    texts = [s.text.strip() for s in direct.transcript.segments if s.text.strip()]
    assert [s.text for s in result.segments] == texts
    assert {s.type for s in result.segments} == {"transcript.text.segment"}
    assert {s.speaker for s in result.segments} == {"A", "B"}
    by_start = {s.span.start: s for s in direct.transcript.segments}
    for segment in result.segments:
        source = by_start[segment.start]
        if source.speaker:
            assert segment.speaker == labels[source.speaker]


def _data_url(samples, rate: int = 16_000) -> str:
    import base64
    import io

    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV")
    return "data:audio/wav;base64," + base64.b64encode(buffer.getvalue()).decode()


def _clips(sample_wav: Path) -> dict[str, str]:
    """A clip of each sample speaker alone, where its RTTM says only that speaker talks."""
    import soundfile as sf

    samples, rate = sf.read(sample_wav, dtype="float32")
    return {"agent": _data_url(samples[round(10.7 * rate):round(14.4 * rate)]),      # speaker90 alone
            "customer": _data_url(samples[round(22.0 * rate):round(27.8 * rate)])}   # speaker91 alone


def test_known_speakers_are_named(client, sample_wav: Path, direct: ResultDocument, upload_tmp: Path) -> None:
    from qasr_plugins.evaluation.readers import read_rttm

    clips = _clips(sample_wav)
    result = _create(client, sample_wav, response_format="diarized_json",
                     extra_body={"known_speaker_names": list(clips), "known_speaker_references": list(clips.values())})
    assert {s.speaker for s in result.segments} == {"agent", "customer"}
    reference = next(iter(read_rttm(sample_wav.with_suffix(".rttm"))))
    who = {"speaker90": "agent", "speaker91": "customer"}
    spoken: dict[str, dict[str, float]] = {}  # name given → reference speaker → seconds of its segments
    for segment in result.segments:
        for turn in reference.turns:
            overlap = max(0.0, min(turn.span.end, segment.end) - max(turn.span.start, segment.start))
            shares = spoken.setdefault(segment.speaker, {})
            shares[who[turn.speaker]] = shares.get(who[turn.speaker], 0.0) + overlap
    for name, shares in spoken.items():  # each name went to the speaker whose clip it was given
        assert max(shares, key=shares.get) == name and shares[name] > 2 * sum(shares.values()) / 3, spoken
    # one enrolled speaker: the other keeps a letter; the served pipeline is unchanged afterwards
    one = _create(client, sample_wav, response_format="diarized_json",
                  extra_body={"known_speaker_names": ["agent"], "known_speaker_references": [clips["agent"]]})
    assert {s.speaker for s in one.segments} == {"agent", "A"}
    assert {s.speaker for s in _create(client, sample_wav, response_format="diarized_json").segments} == {"A", "B"}
    assert leftovers(upload_tmp) == []


def test_known_speakers_in_a_stream(client, sample_wav: Path, upload_tmp: Path) -> None:
    clips = _clips(sample_wav)  # the naming node runs after the first deltas: its clips must outlive the response
    with sample_wav.open("rb") as audio:
        events = list(client.audio.transcriptions.create(
            model="offline", file=audio, stream=True, response_format="diarized_json",
            extra_body={"known_speaker_names": list(clips), "known_speaker_references": list(clips.values())}))
    assert events[-1].type == "transcript.text.done"
    assert {e.speaker for e in events if e.type == "transcript.text.segment"} == {"agent", "customer"}
    assert leftovers(upload_tmp) == []


def test_known_speaker_clips_are_checked(base: str, sample_wav: Path, upload_tmp: Path) -> None:
    import numpy as np

    url, auth = f"{base}/v1/audio/transcriptions", {"Authorization": "Bearer sk-test"}
    clip = _clips(sample_wav)["agent"]
    for names, references, param, phrase in (
            (["a"], [_data_url(np.zeros(16_000, dtype=np.float32))], "known_speaker_references[]", "2-10 s"),
            (["a"], [_data_url(np.zeros(16_000 * 11, dtype=np.float32))], "known_speaker_references[]", "2-10 s"),
            (["a"], [_data_url(np.zeros(16_000 * 3, dtype=np.float32))], "known_speaker_references[]",
             "no speech"),  # silence: nothing to embed
            (["a", "b", "c", "d", "e"], [clip] * 5, "known_speaker_names[]", "at most 4"),
            (["a", " A "], [clip] * 2, "known_speaker_names[]", "repeats")):
        response = httpx.post(url, headers=auth, files={"file": sample_wav.read_bytes()}, timeout=60,
                              data={"model": "offline", "known_speaker_names[]": names,
                                    "known_speaker_references[]": references})
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["param"] == param and phrase in error["message"], error
    assert leftovers(upload_tmp) == []


def test_references_without_speech_are_refused_when_models_load_per_run(sample_wav: Path) -> None:
    """With run.release_models the naming stage loads (and enrolls) only when the request runs: still a 400."""
    import numpy as np

    pipeline = Pipeline.from_config("offline", ["run.release_models=true"], cache=False)
    with running(create_app({"offline": pipeline}, api_key="sk-test")) as url:
        response = httpx.post(f"{url}/v1/audio/transcriptions", headers={"Authorization": "Bearer sk-test"},
                              files={"file": sample_wav.read_bytes()}, timeout=120,
                              data={"model": "offline", "known_speaker_names[]": ["a"],
                                    "known_speaker_references[]": [_data_url(np.zeros(16_000 * 3, dtype=np.float32))]})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == "known_speaker_references[]" and error["code"] == "S418", error


def test_subtitles(client, sample_wav: Path, offline: Pipeline, direct: ResultDocument) -> None:
    srt = _create(client, sample_wav, response_format="srt")
    vtt = _create(client, sample_wav, response_format="vtt")
    rendered = offline.render(direct)
    assert srt == rendered["srt"] and vtt == rendered["vtt"]
    assert re.search(r"\d\d:\d\d:\d\d,\d\d\d --> ", srt) and vtt.startswith("WEBVTT")


def test_streaming(client, sample_wav: Path, direct: ResultDocument) -> None:
    with sample_wav.open("rb") as audio:
        events = list(client.audio.transcriptions.create(model="offline", file=audio, stream=True))
    assert events[-1].type == "transcript.text.done" and events[-1].text == direct.transcript.text
    assert "".join(e.delta for e in events if e.type == "transcript.text.delta") == direct.transcript.text
    with sample_wav.open("rb") as audio:
        events = list(client.audio.transcriptions.create(model="offline", file=audio, stream=True,
                                                         response_format="diarized_json"))
    segments = [e for e in events if e.type == "transcript.text.segment"]
    assert {s.speaker for s in segments} == {"A", "B"} and events[-1].type == "transcript.text.done"


def test_per_request_vad_settings(client, sample_wav: Path, offline: Pipeline) -> None:
    result = _create(client, sample_wav, response_format="verbose_json",
                     chunking_strategy={"type": "server_vad", "threshold": 0.6, "silence_duration_ms": 300})
    tuned = Pipeline.from_config("offline", ["stages.vad.threshold=0.6", "stages.vad.min_silence_duration=0.3"])
    assert result.text == tuned(sample_wav).transcript.text
    assert offline.spec.node("vad").config.threshold == 0.5  # the served pipeline is unchanged
    assert _create(client, sample_wav, chunking_strategy="auto").text


@pytest.mark.parametrize(("fields", "param"), [
    ({"language": "fr"}, "language"),  # tiny.en is English-only
    ({"language": "xx-nope"}, "language"),
    ({"prompt": "names"}, "prompt"),  # faster_whisper.asr takes no context
    ({"temperature": "0.4"}, "temperature"),
    ({"include[]": "logprobs"}, "include[]"),
    ({"known_speaker_names[]": "agent"}, "known_speaker_references[]"),  # a name needs its clip
    ({"known_speaker_references[]": "data:audio/wav;base64,AAAA"}, "known_speaker_names[]"),
    ({"known_speaker_names[]": "agent", "known_speaker_references[]": "clip.wav"}, "known_speaker_references[]"),
    ({"known_speaker_names[]": "agent", "known_speaker_references[]": "data:audio/wav;base64,@@"},
     "known_speaker_references[]"),
    ({"known_speaker_names[]": "agent", "known_speaker_references[]": "data:audio/wav;base64,AAAA"},
     "known_speaker_references[]"),  # not audio
    ({"timestamp_granularities[]": "word"}, "timestamp_granularities[]"),  # needs verbose_json
    ({"response_format": "xml"}, "response_format"),
    ({"stream": "true", "response_format": "srt"}, "stream"),
    ({"chunking_strategy": "manual"}, "chunking_strategy"),
    ({"chunking_strategy[type]": "server_vad", "chunking_strategy[threshold]": "1.5"}, "chunking_strategy[threshold]"),
    ({"frobnicate": "1"}, "frobnicate"),
])
def test_what_cannot_be_honoured_is_a_400(base: str, sample_wav: Path, fields: dict, param: str,
                                          upload_tmp: Path) -> None:
    response = httpx.post(f"{base}/v1/audio/transcriptions", headers={"Authorization": "Bearer sk-test"},
                          data={"model": "offline", **fields}, files={"file": sample_wav.read_bytes()}, timeout=60)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param and error["message"] and error["type"] == "invalid_request_error"
    assert leftovers(upload_tmp) == []


def test_errors_of_the_request(base: str, sample_wav: Path, tmp_path: Path, upload_tmp: Path) -> None:
    url, auth = f"{base}/v1/audio/transcriptions", {"Authorization": "Bearer sk-test"}
    unauthorized = httpx.post(url, data={"model": "offline"}, files={"file": b"x"})
    assert unauthorized.status_code == 401 and unauthorized.json()["error"]["code"] == "invalid_api_key"
    assert httpx.get(f"{base}/v1/models", headers={"Authorization": "Bearer wrong"}).status_code == 401
    unknown = httpx.post(url, headers=auth, data={"model": "whisper-1"}, files={"file": b"x"})
    assert unknown.status_code == 404 and unknown.json()["error"]["param"] == "model"
    garbage = httpx.post(url, headers=auth, data={"model": "offline"}, files={"file": ("a.wav", b"not audio")})
    assert garbage.status_code == 400 and garbage.json()["error"]["param"] == "file"
    missing = httpx.post(url, headers=auth, data={"model": "offline"})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "file"
    too_big = httpx.post(url, headers=auth, data={"model": "offline"}, files={"file": b"\0" * (5 * 1024 * 1024)})
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "file_too_large"
    import numpy as np
    import soundfile as sf

    long = tmp_path / "long.wav"
    sf.write(long, np.zeros(16_000 * 61, dtype=np.float32), 16_000)
    too_long = httpx.post(url, headers=auth, data={"model": "offline"}, files={"file": long.read_bytes()})
    assert too_long.status_code == 413 and too_long.json()["error"]["code"] == "audio_too_long"
    # after all that, the server still transcribes
    fine = httpx.post(url, headers=auth, data={"model": "offline"}, files={"file": sample_wav.read_bytes()},
                      timeout=120)
    assert fine.status_code == 200 and fine.json()["text"]
    assert leftovers(upload_tmp) == []
