"""NeMo frame VAD and Sortformer diarization as stages, on tiny random-weight .nemo files built offline, checked
against NeMo's own post-processing and diarize()."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("nemo.collections.asr", reason="needs qasr-plugins[nemo]")

from qasr_plugins.adapters.nemo.diarization import NemoDiarization
from qasr_plugins.adapters.nemo.tiny import build_tiny_frame_vad, build_tiny_sortformer
from qasr_plugins.adapters.nemo.vad import NemoVad
from qasr_plugins.audio import load_audio
from qasr_plugins.errors import StageError
from qasr_plugins.stage import DiarizationInput, VadInput
from qasr_plugins.testing.contract import stage_contract
from qasr_plugins.types import Audio, Span, SpeechRegions

#: Post-processing that keeps plenty of decisions on the tiny models (NeMo's names).
RULES = {"onset": 0.5, "offset": 0.4, "pad_onset": 0.1, "pad_offset": 0.1, "min_duration_on": 0.1,
         "min_duration_off": 0.1, "filter_speech_first": True}


@pytest.fixture(scope="module")
def sample(sample_wav: Path) -> Audio:
    return load_audio(sample_wav)


@pytest.fixture(scope="module")
def tiny_vad(tmp_path_factory: pytest.TempPathFactory, sample: Audio) -> Path:
    return build_tiny_frame_vad(tmp_path_factory.mktemp("vad") / "vad.nemo", calibrate_on=sample.waveform)


@pytest.fixture(scope="module")
def tiny_sortformer(tmp_path_factory: pytest.TempPathFactory, sample: Audio) -> Path:
    return build_tiny_sortformer(tmp_path_factory.mktemp("sortformer") / "sortformer.nemo",
                                 calibrate_on=sample.waveform)


@pytest.fixture(scope="module")
def vad(tiny_vad: Path) -> NemoVad:
    stage = NemoVad(model=str(tiny_vad), **RULES)
    stage.ensure_loaded()
    return stage


@pytest.fixture(scope="module")
def diarizer(tiny_sortformer: Path) -> NemoDiarization:
    stage = NemoDiarization(model=str(tiny_sortformer))
    stage.ensure_loaded()
    return stage


# ---- nemo.vad -----------------------------------------------------------------------------------------------------

def test_vad_probabilities_are_nemos_own(vad: NemoVad, tiny_vad: Path, sample: Audio) -> None:
    from nemo.collections.asr.models import EncDecFrameClassificationModel

    ours = vad.speech_probabilities([sample.waveform])[0]
    assert vad.frame == pytest.approx(0.02) and len(ours) == 1500
    model = EncDecFrameClassificationModel.restore_from(str(tiny_vad), map_location="cpu")
    [logits] = model.transcribe([sample.waveform], batch_size=1, logprobs=True)
    theirs = np.exp(logits[:, 1]) / np.exp(logits).sum(axis=1)
    np.testing.assert_allclose(ours, theirs[:len(ours)], atol=1e-5)
    assert 0.2 < float((ours > RULES["onset"]).mean()) < 0.8  # calibrated: decisions both ways


def test_vad_regions_follow_nemos_postprocessing(vad: NemoVad, sample: Audio) -> None:
    import torch
    from nemo.collections.asr.parts.utils.vad_utils import binarization, filtering

    regions = vad.process([VadInput(sample)])[0].regions
    arguments = {**RULES, "filter_speech_first": 1.0, "frame_length_in_sec": vad.frame}
    probabilities = torch.tensor(vad.speech_probabilities([sample.waveform])[0])
    theirs = filtering(binarization(probabilities, arguments), arguments).tolist()
    assert len(regions) == len(theirs) >= 3
    for ours, (start, end) in zip(regions, theirs, strict=True):
        assert ours.start == pytest.approx(start, abs=1e-4)
        # NeMo ends a region open at the end one frame short, and may pass the end of the audio
        assert ours.end == pytest.approx(min(end, sample.duration), abs=vad.frame + 1e-4)
    assert all(0.0 <= r.start < r.end <= sample.duration for r in regions)


def test_vad_batches_chunks_and_offsets(tiny_vad: Path, sample: Audio) -> None:
    single = NemoVad(model=str(tiny_vad), **RULES)
    single.ensure_loaded()
    whole = single.process([VadInput(sample)])[0].regions
    shifted = Audio("later", sample.waveform, offset=100.0)
    batched = NemoVad(model=str(tiny_vad), batch_size=2, **RULES)
    batched.ensure_loaded()
    first, moved = batched.process([VadInput(sample), VadInput(shifted)])
    assert first.regions == whole
    assert [(round(r.start - 100.0, 6), round(r.end - 100.0, 6)) for r in moved.regions] == [
        (round(r.start, 6), round(r.end, 6)) for r in whole]
    chunked = NemoVad(model=str(tiny_vad), chunk=10.0, **RULES)
    chunked.ensure_loaded()
    pieces = chunked.process([VadInput(sample)])[0].regions
    assert len(pieces) == len(whole)  # 10 s pieces: only frames next to a cut can differ
    for ours, reference in zip(pieces, whole, strict=True):
        assert abs(ours.start - reference.start) <= 0.1 and abs(ours.end - reference.end) <= 0.1


def test_wrong_or_missing_models_are_coded_errors(tiny_sortformer: Path, tmp_path: Path) -> None:
    with pytest.raises(StageError) as wrong:
        NemoVad(model=str(tiny_sortformer)).ensure_loaded()
    assert wrong.value.code == "S405" and "EncDecFrameClassificationModel" in wrong.value.message
    with pytest.raises(StageError) as missing:
        NemoDiarization(model=str(tmp_path / "nope.nemo")).ensure_loaded()
    assert missing.value.code == "S404" and "nope.nemo" in missing.value.render()


# ---- nemo.diarization ---------------------------------------------------------------------------------------------

def test_turns_match_nemos_diarize(diarizer: NemoDiarization, tiny_sortformer: Path, sample: Audio) -> None:
    """Default post-processing is NeMo's diarize(): the same turns, speakers renamed by first appearance."""
    from nemo.collections.asr.models import SortformerEncLabelModel

    turns = diarizer.process([DiarizationInput(sample)])[0].turns
    model = SortformerEncLabelModel.restore_from(str(tiny_sortformer), map_location="cpu")
    lines = model.diarize(audio=sample.waveform, sample_rate=16_000, verbose=False)[0]
    theirs = sorted((float(a), float(b), k) for a, b, k in (line.split() for line in lines))
    firsts = sorted((min(a for a, _, s in theirs if s == slot), slot) for slot in {s for _, _, s in theirs})
    names = {slot: f"SPEAKER_{rank:02d}" for rank, (_, slot) in enumerate(firsts)}
    assert len(turns.turns) == len(theirs) > 20 and len(turns.speakers) >= 2
    by_speaker = sorted(turns.turns, key=lambda t: (t.speaker, t.span.start))
    expected = sorted(((names[k], a, b) for a, b, k in theirs), key=lambda x: (x[0], x[1]))
    for turn, (name, start, end) in zip(by_speaker, expected, strict=True):
        assert turn.speaker == name and turn.span.start == pytest.approx(start, abs=1e-3)
        assert turn.span.end == pytest.approx(end, abs=0.011)  # NeMo ends a turn open at the end 10 ms short


def test_exclusive_turns_cover_the_regular_ones(diarizer: NemoDiarization, sample: Audio) -> None:
    result = diarizer.process([DiarizationInput(sample)])[0]
    exclusive = result.exclusive
    assert exclusive is not None and exclusive.exclusive and exclusive.turns
    centres = (np.arange(int(sample.duration / diarizer.frame)) + 0.5) * diarizer.frame
    for centre in centres:
        talking = {t.speaker for t in result.turns.turns if t.span.start <= centre < t.span.end}
        owner = [t.speaker for t in exclusive.turns if t.span.start <= centre < t.span.end]
        assert len(owner) == (1 if talking else 0) and set(owner) <= talking
    assert all(a.span.end <= b.span.start + 1e-9 for a, b in itertools.pairwise(exclusive.turns))


def test_offsets_speech_regions_and_rules(tiny_sortformer: Path, diarizer: NemoDiarization, sample: Audio) -> None:
    reference = diarizer.process([DiarizationInput(sample)])[0].turns.turns
    moved = diarizer.process([DiarizationInput(Audio("later", sample.waveform, offset=50.0))])[0].turns.turns
    assert [(t.speaker, round(t.span.start - 50, 6), round(t.span.end - 50, 6)) for t in moved] == [
        (t.speaker, round(t.span.start, 6), round(t.span.end, 6)) for t in reference]
    speech = SpeechRegions("sample", (Span(5.0, 10.0), Span(20.0, 25.0)))
    clipped = diarizer.process([DiarizationInput(sample, speech)])[0]
    assert clipped.turns.turns and all(any(r.start <= t.span.start <= t.span.end <= r.end for r in speech.regions)
                                       for t in (*clipped.turns.turns, *clipped.exclusive.turns))
    strict = NemoDiarization(model=str(tiny_sortformer), min_duration_on=1.0, clip_to_speech=False)
    strict.ensure_loaded()
    long_turns = strict.process([DiarizationInput(sample, speech)])[0].turns.turns
    assert long_turns and all(t.span.duration >= 1.0 - 1e-9 for t in long_turns)
    assert any(not any(r.start <= t.span.start and t.span.end <= r.end for r in speech.regions) for t in long_turns)


def test_streaming_mode_is_switched_on_request(tiny_sortformer: Path, diarizer: NemoDiarization,
                                               sample: Audio) -> None:
    streaming = NemoDiarization(model=str(tiny_sortformer), streaming=True)
    streaming.ensure_loaded()
    chunked = streaming.process([DiarizationInput(sample)])[0].turns.turns
    assert chunked and chunked != diarizer.process([DiarizationInput(sample)])[0].turns.turns
    assert all(0.0 <= t.span.start < t.span.end <= sample.duration for t in chunked)


def test_tiny_input_gives_no_turns(diarizer: NemoDiarization) -> None:
    result = diarizer.process([DiarizationInput(Audio("blip", np.zeros(400, dtype=np.float32)))])[0]
    assert result.turns.turns == () and result.exclusive.turns == ()


def test_the_nemo_pipeline_end_to_end(tiny_vad: Path, tiny_sortformer: Path, sample_wav: Path,
                                      tmp_path: Path) -> None:
    """pipelines/nemo.yaml through the CLI, every model a tiny .nemo file."""
    import json
    import subprocess
    import sys

    from qasr_plugins.adapters.nemo.tiny import build_tiny_ctc_model
    from qasr_plugins.document import ResultDocument

    asr = build_tiny_ctc_model(tmp_path / "ctc.nemo")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "qasr_plugins.cli", "run", "nemo", str(sample_wav), "-o", str(out),
               "--no-progress", f"stages.vad.model={tiny_vad}", f"stages.diar.model={tiny_sortformer}",
               f"stages.asr.model={asr}"]
    result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    document = ResultDocument.load(out / "sample.json")
    assert document.speech.regions and document.diarization.turns.turns and document.transcript.segments
    assert [(r.node, r.name) for r in document.provenance] == [
        ("vad", "nemo.vad"), ("diar", "nemo.diarization"), ("asr", "nemo.asr"), ("words", "max_overlap")]
    speakers = set(document.diarization.turns.speakers)
    assert {w.speaker for s in document.transcript.segments for w in s.words if w.speaker} <= speakers
    for suffix in ("srt", "vtt", "rttm", "ctm", "manifest.jsonl"):
        assert (out / f"sample.{suffix}").is_file(), suffix
    assert json.loads((out / "sample.manifest.jsonl").read_text().splitlines()[0])["audio_filepath"]


TestNemoVadContract = stage_contract(NemoVad, "nemo.vad", settings_from_fixtures={"model": "tiny_vad"})
TestNemoDiarizationContract = stage_contract(NemoDiarization, "nemo.diarization",
                                             settings_from_fixtures={"model": "tiny_sortformer"})
