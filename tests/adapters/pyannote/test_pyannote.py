"""pyannote bridges: Annotation/Timeline conversions and pyannote pipelines as a diarization stage."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from qasr_plugins import Pipeline
from qasr_plugins.adapters.pyannote import (
    from_annotation,
    from_diarize_output,
    from_timeline,
    to_annotation,
    to_diarize_output,
    to_timeline,
)
from qasr_plugins.adapters.pyannote.diarization import PyannoteDiarization
from qasr_plugins.stage import DiarizationInput
from qasr_plugins.testing.contract import StageContract
from qasr_plugins.types import Audio, Diarization, Span, SpeakerTurns, SpeechRegions, Turn


def test_turns_round_trip_through_annotation() -> None:
    turns = SpeakerTurns("u", (Turn(Span(0.5, 2.0), "A"), Turn(Span(1.5, 3.0), "B"), Turn(Span(1.5, 3.0), "C")))
    annotation = to_annotation(turns)
    assert annotation.uri == "u" and sorted(annotation.labels()) == ["A", "B", "C"]
    assert from_annotation(annotation) == turns


def test_regions_round_trip_through_timeline() -> None:
    regions = SpeechRegions("u", (Span(0.0, 1.0), Span(2.0, 3.5)))
    assert from_timeline(to_timeline(regions)) == regions


def test_diarize_output_round_trip() -> None:
    regular = SpeakerTurns("u", (Turn(Span(0, 2), "A"), Turn(Span(1.5, 3), "B")))
    exclusive = SpeakerTurns("u", (Turn(Span(0, 1.5), "A"), Turn(Span(1.5, 3), "B")), exclusive=True)
    assert from_diarize_output(to_diarize_output(Diarization(regular, exclusive)), "u") == Diarization(regular,
                                                                                                        exclusive)


@pytest.fixture()
def local_pyannote_checkpoint(fake_plugins, tmp_path: Path) -> Path:
    """A config.yaml naming a test plugin's pipeline class: not pyannote.audio's, so stages opt in to load it."""
    (tmp_path / "config.yaml").write_text(
        "pipeline:\n  name: qasr_test_good.pyannote_pipeline.AlternatingSpeakers\n  params: {}\n")
    return tmp_path


def test_local_pyannote_pipeline_as_a_stage(local_pyannote_checkpoint: Path) -> None:
    stage = PyannoteDiarization(checkpoint=str(local_pyannote_checkpoint), num_speakers=3, trust_checkpoint=True)
    stage.ensure_loaded()
    audio = Audio("u", np.zeros(16000 * 7, dtype=np.float32), offset=100.0)
    (result,) = stage.process([DiarizationInput(audio)])
    assert result.turns.speakers == ("SPEAKER_00", "SPEAKER_01", "SPEAKER_02")
    assert result.turns.turns[0].span == Span(100.0, 102.5)  # shifted by the audio's offset exactly once
    assert result.exclusive is not None and result.exclusive.exclusive
    assert result.exclusive.turns[-1].span.end == pytest.approx(107.0)


def test_turns_are_clipped_to_the_wired_speech(local_pyannote_checkpoint: Path) -> None:
    audio = Audio("u", np.zeros(16000 * 7, dtype=np.float32), offset=100.0)
    speech = SpeechRegions("u", (Span(100.5, 101.0), Span(102.0, 103.0)))
    clipped = PyannoteDiarization(checkpoint=str(local_pyannote_checkpoint), num_speakers=3, trust_checkpoint=True)
    kept = PyannoteDiarization(checkpoint=str(local_pyannote_checkpoint), num_speakers=3, clip_to_speech=False,
                               trust_checkpoint=True)
    for stage in (clipped, kept):
        stage.ensure_loaded()
    (result,) = clipped.process([DiarizationInput(audio, speech)])
    assert [(t.speaker, t.span) for t in result.turns] == [
        ("SPEAKER_00", Span(100.5, 101.0)), ("SPEAKER_00", Span(102.0, 102.5)), ("SPEAKER_01", Span(102.0, 103.0))]
    assert result.exclusive is not None and [(t.speaker, t.span) for t in result.exclusive] == [
        ("SPEAKER_00", Span(100.5, 101.0)), ("SPEAKER_01", Span(102.0, 103.0))]
    (whole,) = kept.process([DiarizationInput(audio, speech)])
    assert whole.turns.turns[0].span == Span(100.0, 102.5) and whole.turns.turns[-1].span.end == pytest.approx(107.0)


def test_bare_annotation_pipelines_are_accepted(local_pyannote_checkpoint: Path) -> None:
    (local_pyannote_checkpoint / "config.yaml").write_text(
        "pipeline:\n  name: qasr_test_good.pyannote_pipeline.AlternatingSpeakers\n  params: {bare: true}\n")
    stage = PyannoteDiarization(checkpoint=str(local_pyannote_checkpoint), trust_checkpoint=True)
    stage.ensure_loaded()
    (result,) = stage.process([DiarizationInput(Audio("u", np.zeros(16000 * 3, dtype=np.float32)))])
    assert result.exclusive is None and len(result.turns.turns) == 2


def test_a_missing_local_checkpoint_is_named(tmp_path: Path) -> None:
    from qasr_plugins.adapters.pyannote.diarization import PyannoteDiarization
    from qasr_plugins.errors import StageError

    with pytest.raises(StageError) as caught:
        PyannoteDiarization(checkpoint=str(tmp_path / "community-1")).ensure_loaded()
    assert caught.value.code == "S404" and "no such file or directory" in caught.value.message


def test_missing_checkpoint_offline_is_a_coded_error(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    # A fresh process: the hub client reads HF_HUB_OFFLINE when it is first imported.
    probe = ("from qasr_plugins.adapters.pyannote.diarization import PyannoteDiarization as P\n"
             "from qasr_plugins.errors import StageError\n"
             "try:\n    P(checkpoint='pyannote/speaker-diarization-community-1').ensure_loaded()\n"
             "except StageError as e:\n    print(e.code, '|', e.hint)\n")
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"), PYANNOTE_METRICS_ENABLED="0")
    out = subprocess.run([sys.executable, "-c", probe], check=False, capture_output=True, text=True, env=env, timeout=300)
    assert out.stdout.startswith("S404 |") and "local directory" in out.stdout, out.stderr[-2000:]


def test_pyannote_stage_in_a_pipeline(local_pyannote_checkpoint: Path, monkeypatch: pytest.MonkeyPatch,
                                      sample_wav: Path) -> None:
    monkeypatch.setenv("PYANNOTE_METRICS_ENABLED", "0")
    pipeline = Pipeline.from_config(Path(__file__).parents[2] / "configs" / "fake_full.yaml",
                                    ["stages/diarization=pyannote_community1",
                                     f"stages.diarization.checkpoint={local_pyannote_checkpoint}",
                                     "stages.diarization.trust_checkpoint=true"])
    document = pipeline(sample_wav)
    assert document.diarization.turns.speakers == ("SPEAKER_00", "SPEAKER_01")
    assert document.diarization.exclusive is not None


class TestPyannoteContract(StageContract):
    stage_class = PyannoteDiarization
    registered_name = "pyannote.diarization"

    def make_stage(self):
        import qasr_test_good  # noqa: F401 - provided by the fake_plugins fixture

        return PyannoteDiarization(checkpoint=str(self.checkpoint), trust_checkpoint=True)

    @pytest.fixture(autouse=True)
    def _checkpoint(self, local_pyannote_checkpoint: Path) -> None:
        type(self).checkpoint = local_pyannote_checkpoint


def test_qasr_graph_as_a_pyannote_pipeline(fake_pipeline: Path, sample_wav: Path) -> None:
    from pyannote.audio import Pipeline as PyannotePipeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    from qasr_plugins.adapters.pyannote import as_pyannote_pipeline

    wrapped = as_pyannote_pipeline(Pipeline.from_config(fake_pipeline))
    assert isinstance(wrapped, PyannotePipeline)
    output = wrapped({"audio": str(sample_wav), "uri": "sample"})
    assert sorted(output.speaker_diarization.labels()) == ["SPEAKER_00", "SPEAKER_01"]
    assert wrapped.last_document.transcript is not None
    error = DiarizationErrorRate()(output.speaker_diarization, output.exclusive_speaker_diarization)
    assert error == 0.0  # the fake diarizer's turns are already exclusive


def test_diarize_output_keeps_regular_and_exclusive_turns_apart() -> None:
    """Overlapped speech: the regular annotation keeps both speakers, the exclusive one gives the overlap to one."""
    regular = SpeakerTurns("call", (Turn(Span(0.0, 4.0), "A"), Turn(Span(3.0, 6.0), "B")))
    exclusive = SpeakerTurns("call", (Turn(Span(0.0, 3.5), "A"), Turn(Span(3.5, 6.0), "B")), exclusive=True)
    output = to_diarize_output(Diarization(regular, exclusive))
    assert [(s.start, s.end) for s in output.speaker_diarization.get_overlap()] == [(3.0, 4.0)]
    assert not list(output.exclusive_speaker_diarization.get_timeline().get_overlap())
    assert [(s.start, s.end, label) for s, _, label in output.exclusive_speaker_diarization.itertracks(
        yield_label=True)] == [(0.0, 3.5, "A"), (3.5, 6.0, "B")]
    back = from_diarize_output(output, "call")
    assert back.turns == regular and back.exclusive == exclusive


@pytest.fixture(scope="module")
def tiny_community(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from qasr_plugins.adapters.pyannote.tiny import build_tiny_diarization_pipeline

    return build_tiny_diarization_pipeline(tmp_path_factory.mktemp("pyannote") / "community-1-tiny")


def test_the_real_pyannote_pipeline_from_a_local_directory(tiny_community: Path, sample_wav: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """pyannote.audio's own SpeakerDiarization (segmentation → embeddings → VBx) loaded from a community-1-style
    directory of tiny random models, run by the stage on in-memory audio."""
    from pyannote.audio import Pipeline as PyannotePipeline

    from qasr_plugins.audio import load_audio

    monkeypatch.setenv("PYANNOTE_METRICS_ENABLED", "true")  # what importing pyannote.audio leaves when unset
    stage = PyannoteDiarization(checkpoint=str(tiny_community))
    stage.ensure_loaded()
    assert os.environ["PYANNOTE_METRICS_ENABLED"] == "false"  # telemetry off unless asked for
    audio = load_audio(sample_wav)
    moved = Audio("later", audio.waveform, offset=60.0)
    result, shifted = stage.process([DiarizationInput(audio), DiarizationInput(moved)])
    assert result.turns.turns and result.exclusive is not None and result.exclusive.exclusive
    assert all(0.0 <= t.span.start < t.span.end <= audio.duration + 1e-6 for t in result.turns.turns)
    assert [(t.speaker, round(t.span.start + 60.0, 6), round(t.span.end + 60.0, 6)) for t in result.turns.turns] == [
        (t.speaker, round(t.span.start, 6), round(t.span.end, 6)) for t in shifted.turns.turns]
    # the same as pyannote's own pipeline on the same waveform
    reference = PyannotePipeline.from_pretrained(str(tiny_community))(audio.to_pyannote())
    theirs = sorted((round(s.start, 6), round(s.end, 6), label)
                    for s, _, label in reference.speaker_diarization.itertracks(yield_label=True))
    assert sorted((round(t.span.start, 6), round(t.span.end, 6), t.speaker) for t in result.turns.turns) == theirs


def test_diarized_transcript_runs_on_the_real_pyannote_pipeline(tiny_community: Path, tiny_asr: Path,
                                                                tiny_aligner: Path, sample_wav: Path,
                                                                tmp_path: Path) -> None:
    pytest.importorskip("transformers.models.qwen3_asr", reason="needs transformers with qwen3_asr")
    from qasr_plugins.document import ResultDocument

    pipeline = Pipeline.from_config("diarized_transcript", [
        f"stages.diar.checkpoint={tiny_community}", f"stages.asr.model={tiny_asr}", "stages.asr.max_new_tokens=8",
        f"stages.align.model={tiny_aligner}", "stages.align.language=en"], formats=["json", "rttm"])
    summary = pipeline.run([sample_wav], tmp_path, progress=False)
    assert summary.line() == "1 done, 0 skipped, 0 failed"
    document = ResultDocument.load(tmp_path / "sample.json")
    assert document.diarization.turns.turns and document.diarization.exclusive is not None
    assert next(r for r in document.provenance if r.node == "diar").model == str(tiny_community)
