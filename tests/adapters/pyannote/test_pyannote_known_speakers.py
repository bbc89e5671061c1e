"""Known speakers with pyannote's own speaker embeddings: the stage keeps pyannote.audio 4's ``speaker_embeddings``,
embeds clips with the pipeline's embedding model, and ``known_speakers`` compares enrolled clips with them (a tiny
random-weight community-1-style pipeline: the decisions are meaningless, the plumbing is real)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from qasr_plugins import Pipeline
from qasr_plugins.adapters.pyannote import from_diarize_output, to_diarize_output
from qasr_plugins.adapters.pyannote.diarization import PyannoteDiarization
from qasr_plugins.audio import load_audio
from qasr_plugins.document import ResultDocument
from qasr_plugins.errors import ConfigErrors
from qasr_plugins.graph import load_pipeline
from qasr_plugins.stage import DiarizationInput, IdentificationInput, embeds_speech
from qasr_plugins.stages.known_speakers import THRESHOLD, KnownSpeakers
from qasr_plugins.types import Audio, Diarization, Span, SpeakerEmbeddings, SpeakerTurns, Turn

pytest.importorskip("pyannote.audio", reason="needs the pyannote extra")


@pytest.fixture(scope="module")
def tiny_community(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from qasr_plugins.adapters.pyannote.tiny import build_tiny_diarization_pipeline

    return build_tiny_diarization_pipeline(tmp_path_factory.mktemp("pyannote") / "community-1-tiny")


@pytest.fixture(scope="module")
def diarizer(tiny_community: Path) -> PyannoteDiarization:
    stage = PyannoteDiarization(checkpoint=str(tiny_community))
    stage.ensure_loaded()
    return stage


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory, sample_wav: Path) -> dict[str, str]:
    """Two 4 s clips of the sample, written as files."""
    audio = load_audio(sample_wav)
    folder = tmp_path_factory.mktemp("clips")
    found = {}
    for name, start in (("Ann", 6.0), ("Bob", 20.0)):
        path = folder / f"{name}.wav"
        sf.write(path, audio.crop(Span(start, start + 4.0)).waveform, audio.sample_rate)
        found[name] = str(path)
    return found


def test_the_stage_keeps_pyannotes_speaker_embeddings(diarizer: PyannoteDiarization, sample_wav: Path,
                                                      tiny_community: Path) -> None:
    from pyannote.audio import Pipeline as PyannotePipeline

    audio = load_audio(sample_wav)
    result = diarizer(DiarizationInput(audio))
    theirs = PyannotePipeline.from_pretrained(str(tiny_community))(audio.to_pyannote())
    rows = dict(zip(theirs.speaker_diarization.labels(), theirs.speaker_embeddings, strict=True))
    assert result.embeddings is not None
    assert result.embeddings.space == diarizer.speaker_space() == f"pyannote:{tiny_community}/embedding"
    assert set(result.embeddings.speakers) <= set(result.turns.speakers)
    for speaker, vector in result.embeddings.as_dict().items():
        np.testing.assert_allclose(vector, rows[speaker], rtol=1e-6)
    # rows pyannote padded with zeros (a speaker its clustering gave no centroid) are left out
    padded = [s for s, row in rows.items() if not np.any(row)]
    assert not set(padded) & set(result.embeddings.speakers)


def test_embed_speech_is_the_pipelines_embedding_model(diarizer: PyannoteDiarization, sample_wav: Path) -> None:
    import torch

    audio = load_audio(sample_wav)
    clip = audio.crop(Span(3.0, 6.0)).waveform
    rows = diarizer.embed_speech([clip, clip[:100]])
    expected = diarizer._pipeline._embedding(torch.from_numpy(clip)[None, None])[0]
    np.testing.assert_allclose(rows[0], expected, rtol=1e-6)
    assert np.isnan(rows[1]).all()  # too short for the model: no embedding, no error
    assert embeds_speech(diarizer) and embeds_speech(PyannoteDiarization)
    assert 0 < diarizer.same_speaker_similarity < 1


def test_known_speakers_uses_the_diarizers_embeddings_in_its_space(tiny_community: Path, clips: dict[str, str],
                                                                   diarizer: PyannoteDiarization) -> None:
    """A speaker whose pyannote embedding is a clip's own embedding takes that clip's name whatever its audio; a
    speaker without one, or with embeddings of another space, is embedded from its turns with the same model."""
    ann, bob = (load_audio(clips[n]).waveform for n in ("Ann", "Bob"))
    audio = Audio("two", np.concatenate([ann, bob]))
    turns = SpeakerTurns("two", (Turn(Span(0.0, 4.0), "S1"),), exclusive=True)  # S1 speaks Ann's clip
    stage = KnownSpeakers(references=clips, encoder={"name": "pyannote.diarization",
                                                     "checkpoint": str(tiny_community)})
    stage.ensure_loaded()
    assert stage.threshold == diarizer.same_speaker_similarity  # the encoder's own, not the bundled one's

    def named(embeddings: SpeakerEmbeddings | None) -> Diarization:
        return stage(IdentificationInput(audio, Diarization(turns, embeddings=embeddings)))

    own = SpeakerEmbeddings.of(diarizer.speaker_space(), {"S1": diarizer.embed_speech([bob])[0]})
    result = named(own)
    assert result.turns.speakers == ("Bob",)  # its own embedding is Bob's clip's
    assert result.embeddings is not None and result.embeddings.speakers == ("Bob",)  # renamed with the turns
    assert named(None).turns.speakers == ("Ann",)  # embedded from its turn: Ann's clip
    foreign = SpeakerEmbeddings("resemblyzer==0.1.4", own.speakers, own.vectors)
    assert named(foreign).turns.speakers == ("Ann",)  # another space's vectors are not compared


def test_the_section_names_with_the_pyannote_diarizers_encoder(tiny_community: Path, clips: dict[str, str]) -> None:
    overrides = [f"stages.diar.checkpoint={tiny_community}", f"+known_speakers.Ann={clips['Ann']}"]
    spec = load_pipeline("diarized_transcript", overrides)
    encoder = spec.node("speakers").config.encoder
    assert encoder == {**spec.config["stages"]["diar"]} and encoder["checkpoint"] == str(tiny_community)
    bundled = load_pipeline("diarized_transcript", [*overrides, "+stages.speakers.encoder=null"])
    assert bundled.node("speakers").config.encoder is None
    offline = load_pipeline("offline", [f"+known_speakers.Ann={clips['Ann']}"])
    assert offline.node("speakers").config.encoder is None  # the embedded diarizer does not embed clips
    assert offline.node("speakers").config.threshold is None


@pytest.mark.parametrize(("encoder", "message"), [
    ("{name: no.such.stage}", "no.such.stage"),
    ("{name: embedded.diarization}", "cannot embed speech"),
    ("{checkpoint: x}", "needs 'name'"),
    ("{name: pyannote.diarization, num_speakers: 0}", "num_speakers"),
])
def test_a_wrong_encoder_is_a_config_error(clips: dict[str, str], encoder: str, message: str) -> None:
    with pytest.raises(ConfigErrors) as caught:
        load_pipeline("offline", [f"+known_speakers.Ann={clips['Ann']}", f"+stages.speakers.encoder={encoder}"])
    problems = [e for e in caught.value.errors if e.where == "stages.speakers.encoder"]
    assert problems and message in problems[0].message, caught.value


def test_a_run_writes_the_enrolled_names_and_keeps_the_embeddings(tiny_community: Path, clips: dict[str, str],
                                                                  sample_wav: Path, tmp_path: Path) -> None:
    config = {
        "name": "pyannote_named",
        "graph": {"diar": {"kind": "diarization"}},
        "stages": {"diar": {"name": "pyannote.diarization", "checkpoint": str(tiny_community)},
                   "speakers": {"threshold": -1.0}},  # random weights: every speaker takes a name
        "known_speakers": {"Ann": clips["Ann"], "Bob": clips["Bob"]},
        "outputs": {"formats": ["json", "rttm"]},
    }
    pipeline = Pipeline.from_config(config, cache=False)
    summary = pipeline.run([sample_wav], tmp_path, progress=False)
    assert summary.line() == "1 done, 0 skipped, 0 failed"
    document = ResultDocument.load(tmp_path / "sample.json")
    named = set(document.diarization.best.speakers)
    assert named and named <= {"Ann", "Bob"}
    rttm = (tmp_path / "sample.rttm").read_text()
    assert all(f" {name} " in rttm for name in named)
    embeddings = document.diarization.embeddings
    assert embeddings is not None and embeddings.space.startswith("pyannote:")
    assert embeddings.speakers and set(embeddings.speakers) <= {"Ann", "Bob"}


def _named_pipeline(tiny_community: Path, clips: dict[str, str], **run: bool) -> Pipeline:
    return Pipeline.from_config({
        "name": "pyannote_named",
        "graph": {"diar": {"kind": "diarization"}},
        "stages": {"diar": {"name": "pyannote.diarization", "checkpoint": str(tiny_community)},
                   "speakers": {"threshold": -1.0}},
        "known_speakers": {"Ann": clips["Ann"], "Bob": clips["Bob"]},
        "outputs": {"formats": ["json"]},
        "run": run,
    }, cache=False)


def test_naming_shares_the_diarizers_loaded_model(tiny_community: Path, clips: dict[str, str],
                                                 sample_wav: Path) -> None:
    pipeline = _named_pipeline(tiny_community, clips).load()
    diarizer, speakers = pipeline.executor.stages["diar"], pipeline.executor.stages["speakers"]
    assert speakers._encoder is diarizer  # one model in memory, not a second copy
    assert set(pipeline(sample_wav).diarization.best.speakers) <= {"Ann", "Bob"}
    speakers.release()
    assert diarizer.loaded and diarizer.speaker_space() is not None  # the diarizer's model stays its own
    pipeline.close()


def test_an_encoder_with_other_settings_loads_its_own(tiny_community: Path, clips: dict[str, str]) -> None:
    pipeline = _named_pipeline(tiny_community, clips)
    other = f"+stages.speakers.encoder={{name: pyannote.diarization, checkpoint: {tiny_community}, num_speakers: 2}}"
    stages = pipeline.with_overrides([other]).load().executor.stages
    encoder = stages["speakers"]._encoder
    assert encoder is not None and encoder is not stages["diar"] and encoder.config.num_speakers == 2
    stages["speakers"].release()
    assert not encoder.loaded and stages["diar"].loaded  # its own copy goes with it


def test_an_encoder_that_cannot_load_is_named_at_its_settings(clips: dict[str, str], tmp_path: Path) -> None:
    from qasr_plugins.errors import StageError

    encoder = f"{{name: pyannote.diarization, checkpoint: {tmp_path / 'nowhere'}}}"
    pipeline = Pipeline.from_config("offline", [f"+known_speakers.Ann={clips['Ann']}",
                                                f"+stages.speakers.encoder={encoder}"], cache=False)
    with pytest.raises(StageError) as caught:
        pipeline.load()
    assert caught.value.code == "S404" and caught.value.where == "stages.speakers.encoder.checkpoint"


def test_with_release_models_the_shared_model_is_released_after_naming(tiny_community: Path,
                                                                       clips: dict[str, str],
                                                                       sample_wav: Path, tmp_path: Path) -> None:
    pipeline = _named_pipeline(tiny_community, clips, release_models=True)
    summary = pipeline.run([sample_wav], tmp_path, progress=False)
    assert summary.line() == "1 done, 0 skipped, 0 failed"
    assert set(ResultDocument.load(tmp_path / "sample.json").diarization.best.speakers) <= {"Ann", "Bob"}
    assert not any(stage.loaded for stage in pipeline.executor.stages.values())


def test_speaker_embeddings_go_back_to_pyannote_in_label_order() -> None:
    turns = SpeakerTurns("u", (Turn(Span(0, 1), "B"), Turn(Span(1, 2), "A")))
    embeddings = SpeakerEmbeddings.of("pyannote:x", {"B": [0.0, 1.0], "A": [1.0, 0.0]})
    output = to_diarize_output(Diarization(turns, embeddings=embeddings))
    assert output.speaker_diarization.labels() == ["A", "B"]
    np.testing.assert_array_equal(output.speaker_embeddings, [[1.0, 0.0], [0.0, 1.0]])
    assert from_diarize_output(output, "u", "pyannote:x").embeddings == SpeakerEmbeddings.of(
        "pyannote:x", {"A": [1.0, 0.0], "B": [0.0, 1.0]})
    assert from_diarize_output(output, "u").embeddings is None  # no space named: not kept
    partial = SpeakerEmbeddings.of("pyannote:x", {"A": [1.0, 0.0]})
    assert to_diarize_output(Diarization(turns, embeddings=partial)).speaker_embeddings is None


def test_the_bundled_encoder_keeps_its_calibrated_threshold() -> None:
    stage = KnownSpeakers()
    stage.ensure_loaded()
    assert stage.threshold == THRESHOLD


def test_a_diarizer_setting_from_the_environment_stays_hidden_in_the_encoders_copy(
        clips: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "/secret/pipelines/community-1"
    monkeypatch.setenv("QASR_TEST_PIPELINE", secret)
    spec = load_pipeline("diarized_transcript", ["stages.diar.checkpoint=${oc.env:QASR_TEST_PIPELINE}",
                                                 f"+known_speakers.Ann={clips['Ann']}"], allow_env=True)
    node = spec.node("speakers")
    assert node.config.encoder["checkpoint"] == secret  # used
    assert secret not in spec.describe() and secret not in str(spec.public_config())  # never shown
    assert secret not in str(spec.public_settings(node.settings_path, node.config))


def test_a_model_path_from_the_environment_stays_out_of_the_result(
        tiny_community: Path, clips: dict[str, str], sample_wav: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QASR_TEST_PIPELINE", str(tiny_community))
    pipeline = Pipeline.from_config({
        "name": "pyannote_named",
        "graph": {"diar": {"kind": "diarization"}},
        "stages": {"diar": {"name": "pyannote.diarization", "checkpoint": "${oc.env:QASR_TEST_PIPELINE}"}},
        "known_speakers": {"Ann": clips["Ann"]},
        "outputs": {"formats": ["json"]},
    }, cache=False, allow_env=True)
    assert pipeline.run([sample_wav], tmp_path, progress=False).line() == "1 done, 0 skipped, 0 failed"
    text = (tmp_path / "sample.json").read_text()
    assert str(tiny_community) not in text  # neither in the stages' models nor in the embeddings' space
    document = ResultDocument.load(tmp_path / "sample.json")
    assert {record.model for record in document.provenance} == {"<from environment>",
                                                                "pyannote.diarization <from environment>"}
    assert document.diarization.embeddings.space.startswith("pyannote:<from environment>")


def test_naming_with_pyannote_needs_pyannote_not_resemblyzer(tiny_community: Path, clips: dict[str, str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    found = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "resemblyzer" else found(name, *args))
    overrides = [f"stages.diar.checkpoint={tiny_community}", f"+known_speakers.Ann={clips['Ann']}"]
    with_pyannote = load_pipeline("diarized_transcript", overrides)
    assert with_pyannote.node("speakers").stage_class.libraries_for(with_pyannote.node("speakers").config) == \
        PyannoteDiarization.libraries
    assert not [e for e in with_pyannote.missing_libraries() if e.where == "stages.speakers"]
    bundled = load_pipeline("diarized_transcript", [*overrides, "+stages.speakers.encoder=null"])
    missing = [e for e in bundled.missing_libraries() if e.where == "stages.speakers"]
    assert missing and "resemblyzer" in missing[0].message and "[offline]" in missing[0].hint
