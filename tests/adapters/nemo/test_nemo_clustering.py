"""``nemo.clustering``: a NeMo speaker embedding model (a tiny random-weight ``EncDecSpeakerLabelModel`` built
offline) embedding windows for ``embedded.diarization``'s clustering; embeddings checked against NeMo's own
``infer_segment`` and ``get_embedding``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("nemo.collections.asr", reason="needs qasr-plugins[nemo]")

from qasr_plugins.adapters.nemo.clustering import NemoClustering
from qasr_plugins.adapters.nemo.tiny import build_tiny_speaker_model
from qasr_plugins.audio import load_audio
from qasr_plugins.errors import StageError
from qasr_plugins.graph import load_pipeline
from qasr_plugins.stage import DiarizationInput
from qasr_plugins.testing.contract import StageContract
from qasr_plugins.types import Audio, Span, SpeechRegions


@pytest.fixture(scope="module")
def tiny_speaker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_speaker_model(tmp_path_factory.mktemp("speaker") / "speaker.nemo")


@pytest.fixture(scope="module")
def stage(tiny_speaker: Path) -> NemoClustering:
    diarizer = NemoClustering(model=str(tiny_speaker), batch_size=3)
    diarizer.ensure_loaded()
    return diarizer


@pytest.fixture(scope="module")
def sample(sample_wav: Path) -> Audio:
    return load_audio(sample_wav)


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_embeddings_are_nemos_own(stage: NemoClustering, tiny_speaker: Path, sample: Audio, tmp_path: Path) -> None:
    import soundfile as sf
    from nemo.collections.asr.models import EncDecSpeakerLabelModel

    later = Audio("later", sample.waveform[16000 * 5:16000 * 15], offset=5.0)  # a cut: absolute windows
    windows = [Span(5.0, 6.5), Span(5.25, 6.75), Span(8.0, 9.5), Span(10.0, 11.0), Span(12.0, 15.0)]
    ours = stage.embed(later, windows)
    model = EncDecSpeakerLabelModel.restore_from(str(tiny_speaker), map_location="cpu")
    pieces = [later.crop(w).waveform for w in windows]
    theirs = np.concatenate([model.infer_segment(piece)[0].numpy() for piece in pieces])
    np.testing.assert_allclose(ours, _unit(theirs), atol=1e-5)
    assert ours.shape == (5, 16) and np.allclose(np.linalg.norm(ours, axis=1), 1.0)
    path = tmp_path / "window.wav"
    sf.write(path, pieces[2], 16000, subtype="FLOAT")  # lossless: the same samples through NeMo's file reader
    np.testing.assert_allclose(ours[2], _unit(model.get_embedding(str(path)).numpy())[0], atol=1e-5)


def test_diarizes_through_the_shared_clustering(stage: NemoClustering, sample: Audio) -> None:
    speech = SpeechRegions(sample.uri, (Span(1.0, 9.0), Span(10.0, 20.0)))
    diarization = stage.process([DiarizationInput(sample, speech)])[0]
    assert diarization.turns and diarization.exclusive is not None
    assert all(1.0 - 1e-6 <= t.span.start and t.span.end <= 20.0 + 1e-6 for t in diarization.turns)
    assert diarization.exclusive.speech().support(collar=1e-6).regions == speech.regions  # every frame of speech
    fixed = NemoClustering(model=stage.config.model, num_speakers=2)
    fixed.ensure_loaded()
    assert fixed.process([DiarizationInput(sample, speech)])[0].turns.speakers == ("SPEAKER_00", "SPEAKER_01")


def test_preset_and_wrong_models(tiny_speaker: Path, tmp_path: Path) -> None:
    from qasr_plugins.adapters.nemo.tiny import build_tiny_ctc_model

    node = load_pipeline("offline", ["stages/diarization@stages.diar=nemo_titanet"]).node("diar")
    assert node.stage_name == "nemo.clustering" and node.config.model == "nvidia/speakerverification_en_titanet_large"
    with pytest.raises(StageError) as wrong:
        NemoClustering(model=str(build_tiny_ctc_model(tmp_path / "ctc.nemo"))).ensure_loaded()
    assert wrong.value.code == "S405" and "EncDecSpeakerLabelModel" in wrong.value.message


class TestNemoClusteringContract(StageContract):
    stage_class = NemoClustering
    registered_name = "nemo.clustering"
    settings_from_fixtures = {"model": "tiny_speaker"}


def test_speakers_carry_nemo_embeddings_and_clips_embed_in_the_same_space(stage: NemoClustering,
                                                                          sample: Audio) -> None:
    from qasr_plugins.stage import embeds_speech

    speech = SpeechRegions(sample.uri, (Span(1.0, 9.0), Span(10.0, 20.0)))
    fixed = NemoClustering(model=stage.config.model, num_speakers=2)
    fixed.ensure_loaded()
    diarization = fixed.process([DiarizationInput(sample, speech)])[0]
    embeddings = diarization.embeddings
    assert embeddings is not None and embeddings.space == fixed.speaker_space() == f"nemo:{stage.config.model}"
    assert set(embeddings.speakers) == set(diarization.turns.speakers)
    vectors = np.array(embeddings.vectors)
    assert vectors.shape == (2, 16) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert not np.allclose(vectors[0], vectors[1])
    # a whole clip through embed_speech is the same forward pass as a window of that span
    clip = Span(12.0, 15.0)
    rows = stage.embed_speech([sample.crop(clip).waveform, sample.waveform[:10]])
    np.testing.assert_allclose(rows[0], stage.embed(sample, [clip])[0], atol=1e-5)
    assert np.isnan(rows[1]).all()  # too short to embed
    assert embeds_speech(stage) and stage.same_speaker_similarity == pytest.approx(0.4)


def test_the_known_speakers_section_names_with_the_nemo_model(tiny_speaker: Path, sample_wav: Path,
                                                              tmp_path: Path) -> None:
    import soundfile as sf

    clip = tmp_path / "agent.wav"
    sf.write(clip, load_audio(sample_wav).crop(Span(10.7, 14.4)).waveform, 16000)
    spec = load_pipeline("offline", ["stages/diarization@stages.diar=nemo_titanet",
                                     f"stages.diar.model={tiny_speaker}", f"+known_speakers.agent={clip}"])
    encoder = spec.node("speakers").config.encoder
    assert encoder["name"] == "nemo.clustering" and encoder["model"] == str(tiny_speaker)
    from qasr_plugins import Pipeline

    config = {"name": "named", "graph": {"diar": {"kind": "diarization"}},
              "stages": {"diar": {"name": "nemo.clustering", "model": str(tiny_speaker), "num_speakers": 2},
                         "speakers": {"threshold": -1.0}},  # random weights: the best match takes the name
              "known_speakers": {"agent": str(clip)}, "outputs": {"formats": ["rttm"]}}
    document = Pipeline.from_config(config, cache=False)(str(sample_wav))
    assert "agent" in document.diarization.best.speakers and len(document.diarization.best.speakers) == 2
    assert "agent" in document.diarization.embeddings.speakers
    record = next(r for r in document.provenance if r.node == "speakers")
    assert record.model == f"nemo.clustering {tiny_speaker}"  # the encoder that named them
