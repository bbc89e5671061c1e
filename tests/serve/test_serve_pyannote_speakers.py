"""``qasr serve`` naming speakers after a pyannote diarizer: a request's ``known_speaker_references`` are embedded by
the pipeline's own pyannote embedding model and compared with pyannote's speaker embeddings (a tiny random-weight
community-1-style pipeline, Whisper tiny.en for the words; the threshold is lowered so that random weights name)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from bundled_models import require_offline

from qasr_plugins import Pipeline
from qasr_plugins.serve import Limits, create_app

from .conftest import leftovers, running
from .test_serve_offline import _clips, _create

require_offline()
pytest.importorskip("pyannote.audio", reason="needs the pyannote extra")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    from qasr_plugins.adapters.pyannote.tiny import build_tiny_diarization_pipeline

    community = build_tiny_diarization_pipeline(tmp_path_factory.mktemp("pyannote") / "community-1-tiny")
    return Pipeline.from_config("offline", ["stages/diarization@stages.diar=pyannote_community1",
                                            f"stages.diar.checkpoint={community}", "+known_speakers={}",
                                            "+stages.speakers.threshold=-1"]).load()


@pytest.fixture(scope="module")
def client(pipeline: Pipeline, upload_tmp: Path) -> Iterator[object]:
    from openai import OpenAI

    app = create_app({"offline": pipeline}, limits=Limits(max_duration=60.0, max_upload_bytes=4 * 1024 * 1024))
    with running(app) as url:
        yield OpenAI(base_url=f"{url}/v1", api_key="none", max_retries=0, timeout=120)


def test_a_request_names_speakers_with_pyannotes_embeddings(client, pipeline: Pipeline, sample_wav: Path,
                                                          upload_tmp: Path) -> None:
    speakers = pipeline.spec.node("speakers")
    assert speakers.config.encoder["name"] == "pyannote.diarization"  # the clips go through pyannote's model
    assert pipeline.executor.stages["speakers"]._space.startswith("pyannote:")
    clips = _clips(sample_wav)
    named = _create(client, sample_wav, response_format="diarized_json",
                    extra_body={"known_speaker_names": list(clips), "known_speaker_references": list(clips.values())})
    given = {segment.speaker for segment in named.segments}
    assert given & set(clips) and given <= set(clips) | {"A", "B", "C"}
    plain = _create(client, sample_wav, response_format="diarized_json")  # the served pipeline names nobody itself
    assert not {segment.speaker for segment in plain.segments} & set(clips)
    assert leftovers(upload_tmp) == []
