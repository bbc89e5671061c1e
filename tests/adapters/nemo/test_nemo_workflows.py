"""qasr outputs read by NeMo's own functions: manifests (``read_manifest``, ``get_full_path``, ``audio_rttm_map``),
both CTM layouts (``convert_ctm_to_text``, ``get_ctm_line``), the external VAD manifest (``validate_vad_manifest``,
``segments_manifest_to_subsegments_manifest``) and the diarization + ASR seam
(``OfflineDiarWithASR.get_transcript_with_speaker_labels`` and ``evaluate``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("nemo.collections.asr", reason="needs qasr-plugins[nemo]")

from typer.testing import CliRunner

from qasr_plugins.adapters.nemo.ctm import CtmWriter
from qasr_plugins.adapters.nemo.seams import diar_asr_hypotheses, offline_diar_with_asr
from qasr_plugins.adapters.nemo.tiny import build_tiny_ctc_model
from qasr_plugins.adapters.nemo.vad_manifest import VadManifestWriter
from qasr_plugins.audio import load_audio
from qasr_plugins.cli import app
from qasr_plugins.document import AudioInfo, ResultDocument
from qasr_plugins.types import Diarization, Span, SpeakerTurns, Transcript, TranscriptSegment, Turn, Word

NEMO_VAD_ASR = Path(__file__).parents[2] / "configs" / "nemo_vad_asr.yaml"
SPEECH = ("hello there friend", "good morning", "bye now")
SPEAKERS = ("SPEAKER_00", "說話人 1", "SPEAKER_00")


@pytest.fixture(scope="module")
def short_wav(tmp_path_factory: pytest.TempPathFactory, sample_wav: Path) -> Path:
    """The first 12 s of the sample recording, in a folder of its own."""
    import soundfile as sf

    path = tmp_path_factory.mktemp("audio") / "meeting.wav"
    sf.write(path, load_audio(sample_wav).waveform[:12 * 16000], 16000)
    return path


def _run(*arguments: str) -> None:
    result = CliRunner().invoke(app, ["run", *arguments, "--no-progress"])
    assert result.exit_code == 0, result.output


def _document(audio: Path) -> ResultDocument:
    """Three segments by two speakers (one label with a space), each inside its own exclusive turn."""
    segments, turns = [], []
    for index, (text, speaker) in enumerate(zip(SPEECH, SPEAKERS, strict=True)):
        start = 2.0 * index
        words = tuple(Word(w, Span(start + 0.2 + 0.5 * k, start + 0.6 + 0.5 * k), speaker, confidence=0.5)
                      for k, w in enumerate(text.split()))
        segments.append(TranscriptSegment(Span(words[0].span.start, words[-1].span.end), text, language="en",
                                          speaker=speaker, words=words))
        turns.append(Turn(Span(start, start + 2.0), speaker))
    exclusive = SpeakerTurns(audio.stem, tuple(turns), exclusive=True)
    return ResultDocument(audio.stem, AudioInfo(str(audio), 12.0), diarization=Diarization(exclusive),
                          transcript=Transcript(audio.stem, tuple(segments)))


# ---- manifest ---------------------------------------------------------------------------------------------------

def test_manifest_paths_resolve_from_any_directory_and_run_back(short_wav: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from nemo.collections.asr.parts.utils.manifest_utils import read_manifest
    from nemo.collections.asr.parts.utils.speaker_utils import audio_rttm_map
    from nemo.collections.common.parts.preprocessing.manifest import get_full_path

    tiny = build_tiny_ctc_model(tmp_path / "tiny_ctc.nemo")
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    (work / "data").mkdir(parents=True)
    elsewhere.mkdir()
    os.symlink(short_wav, work / "data" / "meeting.wav")
    monkeypatch.chdir(work)  # a relative input, as typed at a prompt
    _run(str(NEMO_VAD_ASR), "data/meeting.wav", "-o", "out", "-f", "manifest,ctm", "stages/vad=energy",
         f"stages.asr.model={tiny}")
    manifest = work / "out" / "manifest.jsonl"

    monkeypatch.chdir(elsewhere)
    [entry] = read_manifest(manifest)
    assert Path(entry["audio_filepath"]).is_absolute()
    assert os.path.isfile(get_full_path(audio_file=entry["audio_filepath"], manifest_file=str(manifest)))
    assert os.path.isfile(entry["word_level_ctm_filepath"])
    [meta] = audio_rttm_map(str(manifest)).values()  # diarization reads the path as written
    assert os.path.isfile(meta["audio_filepath"])

    _run("vad", str(manifest), "-o", "again", "stages/vad=energy")  # qasr reads it back
    assert sorted(p.name for p in (elsewhere / "again").glob("meeting*.json")) == ["meeting.json"]  # no -000000000
    document = ResultDocument.load(elsewhere / "again" / "meeting.json")
    assert document.audio.duration == pytest.approx(12.0) and document.audio.offset == 0.0


# ---- ctm ----------------------------------------------------------------------------------------------------------

def test_nfa_ctm_is_read_by_nemo(tmp_path: Path) -> None:
    from nemo.collections.asr.parts.utils.diarization_utils import convert_ctm_to_text
    from nemo.collections.asr.parts.utils.manifest_utils import get_ctm_line

    document = _document(tmp_path / "meeting.wav")
    path = tmp_path / "meeting.ctm"
    path.write_text(CtmWriter().render(document), encoding="utf-8")
    speakers, mixed = convert_ctm_to_text(str(path))
    assert speakers == [" ".join(SPEECH)] and mixed == " ".join(SPEECH)  # column 2 is the channel: one "speaker"
    ours = [line.split() for line in CtmWriter(extended=True).render(document).splitlines()]
    theirs = [get_ctm_line(source="meeting", channel=1, start_time=w.span.start, duration=w.span.duration,
                           token=w.text, conf=w.confidence, type_of_token="lex", speaker="_".join(w.speaker.split()),
                           output_precision=2).split() for w in document.transcript.words()]
    assert [r[:5] + r[6:] for r in ours] == [r[:5] + r[6:] for r in theirs]
    assert [float(r[5]) for r in ours] == [float(r[5]) for r in theirs]  # the confidence keeps 3 decimals


def test_diarization_ctm_carries_the_speaker_nemo_reads(tmp_path: Path) -> None:
    from nemo.collections.asr.parts.utils.diarization_utils import convert_ctm_to_text

    path = tmp_path / "meeting.ctm"
    path.write_text(CtmWriter(layout="diarization").render(_document(tmp_path / "meeting.wav")), encoding="utf-8")
    assert path.read_text(encoding="utf-8").splitlines()[:2] == ["meeting SPEAKER_00 0.20 0.40 hello 0.500",
                                                               "meeting SPEAKER_00 0.70 0.40 there 0.500"]
    speakers, mixed = convert_ctm_to_text(str(path))
    assert speakers == ["hello there friend bye now", "good morning"] and mixed == " ".join(SPEECH)
    with pytest.raises(ValueError, match="extended"):
        CtmWriter(layout="diarization", extended=True)


# ---- vad_manifest ------------------------------------------------------------------------------------------------

def test_vad_manifest_from_a_vad_pipeline_feeds_nemos_diarizer_readers(short_wav: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from nemo.collections.asr.parts.utils.manifest_utils import read_manifest
    from nemo.collections.asr.parts.utils.speaker_utils import (
        audio_rttm_map,
        segments_manifest_to_subsegments_manifest,
        validate_vad_manifest,
    )

    monkeypatch.chdir(tmp_path)
    _run("vad", str(short_wav), "-o", "out", "-f", "json,vad_manifest", "stages/vad=energy")
    regions = ResultDocument.load(tmp_path / "out" / "meeting.json").speech.regions
    external = tmp_path / "out" / "vad_manifest.jsonl"
    lines = read_manifest(external)
    assert len(lines) == len(regions) >= 2
    assert [(line["offset"], line["duration"]) for line in lines] == [
        (round(r.start, 5), round(r.duration, 5)) for r in regions]
    assert {(line["audio_filepath"], line["label"], line["uniq_id"]) for line in lines} == {
        (str(short_wav), "UNK", "meeting")}

    inputs = tmp_path / "input_manifest.json"  # the diarizer's input manifest, as NeMo's docs write it
    inputs.write_text(json.dumps({"audio_filepath": str(short_wav), "offset": 0, "duration": None,
                                  "label": "infer", "text": "-", "num_speakers": None}) + "\n")
    files = audio_rttm_map(str(inputs))
    validate_vad_manifest(files, vad_manifest=str(external))  # drops files without speech in the VAD manifest
    assert list(files) == ["meeting"]
    subsegments = segments_manifest_to_subsegments_manifest(
        segments_manifest_file=str(external), subsegments_manifest_file=str(tmp_path / "subsegments.json"),
        window=1.5, shift=0.75, include_uniq_id=True)
    windows = read_manifest(subsegments)
    assert len(windows) >= len(regions) and {w["uniq_id"] for w in windows} == {"meeting"}
    for window in windows:
        assert any(r.start - 1e-4 <= window["offset"] and window["offset"] + window["duration"] <= r.end + 1e-4
                   for r in regions)


def test_vad_manifest_falls_back_to_the_union_of_turns(tmp_path: Path) -> None:
    document = _document(tmp_path / "meeting.wav")
    lines = [json.loads(line) for line in VadManifestWriter().render(document).splitlines()]
    assert [(line["offset"], line["duration"]) for line in lines] == [(0.0, 6.0)]  # touching turns merge


# ---- the diarization + ASR seam -----------------------------------------------------------------------------------

def test_nemo_joins_qasr_words_and_turns(tmp_path: Path) -> None:
    documents = [_document(tmp_path / "meeting.wav"), _document(tmp_path / "standup.wav")]
    joined = offline_diar_with_asr(documents, tmp_path / "nemo")
    hypotheses = diar_asr_hypotheses(documents)
    assert hypotheses.diar_hyp["meeting"] == ["0.000 2.000 SPEAKER_00", "2.000 4.000 說話人_1",
                                              "4.000 6.000 SPEAKER_00"]
    result = joined.get_transcript_with_speaker_labels(diar_hyp=hypotheses.diar_hyp, word_hyp=hypotheses.word_hyp,
                                                       word_ts_hyp=hypotheses.word_ts_hyp)
    assert set(result) == {"meeting", "standup"}
    session = result["meeting"]
    document = documents[0]
    assert [(w["word"], w["speaker"]) for w in session["words"]] == [
        (w.text, "_".join(w.speaker.split())) for w in document.transcript.words()]
    assert [(s["speaker"], s["text"]) for s in session["sentences"]] == [
        ("_".join(s.speaker.split()), s.text) for s in document.transcript.segments]
    np.testing.assert_allclose([[w["start_time"], w["end_time"]] for w in session["words"]],
                               [[w.span.start, w.span.end] for w in document.transcript.words()], atol=0.006)
    assert session["speaker_count"] == 2 and session["transcription"] == " ".join(SPEECH)
    assert (tmp_path / "nemo" / "pred_rttms" / "meeting.json").is_file()

    reference = tmp_path / "meeting.ctm"  # our speaker-tagged CTM as NeMo's reference: a perfect score
    reference.write_text(CtmWriter(layout="diarization").render(document), encoding="utf-8")
    scores = joined.evaluate(audio_file_list=[document.audio.path], hyp_trans_info_dict=result,
                             ref_ctm_file_list=[str(reference)])
    assert scores["meeting"]["WER"] == 0.0 and scores["meeting"]["cpWER"] == 0.0


def test_seam_rejects_what_nemo_cannot_key(tmp_path: Path) -> None:
    document = _document(tmp_path / "meeting.wav")
    with pytest.raises(ValueError, match="meeting"):
        diar_asr_hypotheses([document, document])
    with pytest.raises(ValueError, match="speaker turns"):
        diar_asr_hypotheses([ResultDocument("x", AudioInfo(None, 1.0))])
