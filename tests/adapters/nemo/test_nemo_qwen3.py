"""Qwen3-ASR as a NeMo ASRModel, on tiny checkpoints built offline: transcribe(), .nemo files, NeMo's script flow."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("nemo.collections.asr", reason="needs qasr-plugins[nemo]")
pytest.importorskip("transformers.models.qwen3_asr", reason="needs transformers with qwen3_asr")

import torch
from nemo.collections.asr.models import ASRModel
from nemo.collections.asr.parts.utils.rnnt_utils import Hypothesis

from qasr_plugins.adapters.nemo import Qwen3ASRModel, transcript_text
from qasr_plugins.audio import load_audio
from qasr_plugins.errors import ConfigError, ConfigErrors, StageError
from qasr_plugins.qwen3.asr import Qwen3Asr
from qasr_plugins.stage import AsrInput
from qasr_plugins.types import Audio, Span, Transcript, TranscriptSegment

ANSWER = "language English<asr_text>hello world"
TOKENS = 8  # random tiny weights ramble: keep answers short


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from qasr_plugins.qwen3.tiny import build_scripted

    return build_scripted(tmp_path_factory.mktemp("scripted") / "checkpoint", ANSWER)


@pytest.fixture(scope="module")
def scripted_model(scripted: Path) -> Qwen3ASRModel:
    return Qwen3ASRModel.from_pretrained(str(scripted))


@pytest.fixture(scope="module")
def random_model(tiny_asr: Path) -> Qwen3ASRModel:
    return Qwen3ASRModel.from_pretrained(str(tiny_asr), max_new_tokens=TOKENS)


@pytest.fixture(scope="module")
def engine(tiny_asr: Path) -> Qwen3Asr:
    stage = Qwen3Asr(model=str(tiny_asr), max_new_tokens=TOKENS)
    stage.ensure_loaded()
    return stage


def _engine_text(engine: Qwen3Asr, path: Path, span: Span | None = None) -> str:
    audio = load_audio(path)
    if span is not None:
        audio = audio.crop(span)
    return transcript_text(engine.process([AsrInput(audio)])[0])


def test_is_a_nemo_asr_model_with_nemo_results(scripted_model: Qwen3ASRModel, sample_wav: Path) -> None:
    assert isinstance(scripted_model, ASRModel)
    assert scripted_model.transcribe([str(sample_wav)] * 3, batch_size=2, verbose=False) == ["hello world"] * 3
    [hypothesis] = scripted_model.transcribe(str(sample_wav), return_hypotheses=True, verbose=False)
    assert isinstance(hypothesis, Hypothesis) and hypothesis.text == "hello world" and hypothesis.langs == "en"


def test_the_audio_reaches_the_engine_as_qasr_reads_it(random_model: Qwen3ASRModel, engine: Qwen3Asr,
                                                       sample_wav: Path, tmp_path: Path) -> None:
    """A random model's answer depends on every sample: equal answers mean equal audio."""
    whole = _engine_text(engine, sample_wav)
    part = _engine_text(engine, sample_wav, Span(6.0, 11.0))
    assert whole != part
    assert random_model.transcribe([str(sample_wav)], verbose=False) == [whole]
    waveform = load_audio(sample_wav).waveform
    assert random_model.transcribe([waveform, torch.from_numpy(waveform)], batch_size=2, verbose=False) == [whole] * 2
    # a NeMo manifest: relative paths resolved against it, offset and duration honoured
    (tmp_path / "audio").mkdir()
    (tmp_path / "audio" / "sample.wav").symlink_to(sample_wav)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"audio_filepath": "audio/sample.wav", "offset": 6.0, "duration": 5.0}) + "\n"
                        + json.dumps({"audio_filepath": "audio/sample.wav", "duration": 30.0}) + "\n")
    assert random_model.transcribe(str(manifest), batch_size=2, verbose=False) == [part, whole]


def test_forced_language_and_engine_settings(scripted: Path, sample_wav: Path) -> None:
    model = Qwen3ASRModel.from_pretrained(str(scripted), language="English", context="Chicago")
    assert model.cfg.transcribe.language == "English" and model.cfg.transcribe.context == "Chicago"
    # the .nemo config carries every engine setting the stage declares portable, and nothing about this machine
    assert tuple(model.cfg.transcribe) == Qwen3Asr.Config.portable_settings()
    assert {"model", "device", "threads"}.isdisjoint(model.cfg.transcribe) and "batch_size" in model.cfg.transcribe
    [hypothesis] = model.transcribe([str(sample_wav)], return_hypotheses=True, verbose=False)
    assert hypothesis.langs == "en"
    with pytest.raises(ConfigError) as unknown:
        Qwen3ASRModel.from_pretrained(str(scripted), beam_size=4)
    assert unknown.value.code == "C102" and "beam_size" in unknown.value.message
    with pytest.raises(ConfigErrors) as invalid:
        Qwen3ASRModel.from_pretrained(str(scripted), language="Klingon")
    assert invalid.value.errors[0].where == "from_pretrained.language"


def test_bfloat16(scripted: Path, sample_wav: Path) -> None:
    model = Qwen3ASRModel.from_pretrained(str(scripted), dtype="bfloat16")
    assert next(model.parameters()).dtype == torch.bfloat16
    assert model.transcribe([str(sample_wav)], verbose=False) == ["hello world"]


def test_timestamps_without_an_aligner_and_training_are_refused(scripted_model: Qwen3ASRModel,
                                                                sample_wav: Path) -> None:
    with pytest.raises(StageError) as timestamps:
        scripted_model.transcribe([str(sample_wav)], timestamps=True, verbose=False)
    assert timestamps.value.code == "S415" and "aligner=" in timestamps.value.hint
    with pytest.raises(StageError) as training:
        scripted_model.setup_training_data({"manifest_filepath": "train.json"})
    assert training.value.code == "S416"


def test_a_missing_model_or_aligner_is_named(scripted: Path, tmp_path: Path) -> None:
    with pytest.raises(StageError) as asr:
        Qwen3ASRModel.from_pretrained(str(tmp_path / "asr"), aligner=str(tmp_path / "aligner"))
    assert asr.value.code == "S404" and asr.value.where == "model" and "asr" in asr.value.message
    with pytest.raises(StageError) as aligner:
        Qwen3ASRModel.from_pretrained(str(scripted), aligner=str(tmp_path / "aligner"))
    assert aligner.value.code == "S404" and aligner.value.where == "aligner" and "ForcedAligner" in aligner.value.message


@pytest.fixture(scope="module")
def timed_model(scripted: Path, tiny_aligner: Path) -> Qwen3ASRModel:
    return Qwen3ASRModel.from_pretrained(str(scripted), aligner=str(tiny_aligner), aligner_settings={"batch_size": 2})


def test_timestamps_from_the_attached_aligner(timed_model: Qwen3ASRModel, tiny_aligner: Path, sample_wav: Path,
                                              tmp_path: Path) -> None:
    from nemo.collections.asr.parts.utils.transcribe_utils import write_transcription
    from omegaconf import OmegaConf

    from qasr_plugins.qwen3.aligner import Qwen3ForcedAligner
    from qasr_plugins.stage import AlignInput

    part = load_audio(sample_wav).crop(Span(6.0, 11.0))
    [hypothesis] = timed_model.transcribe([part.waveform], timestamps=True, verbose=False)
    assert isinstance(hypothesis, Hypothesis) and hypothesis.text == "hello world"  # hypotheses, as NeMo does
    words, segments = hypothesis.timestamp["word"], hypothesis.timestamp["segment"]
    assert [w["word"] for w in words] == ["hello", "world"] and [s["segment"] for s in segments] == ["hello world"]
    for entry in (*words, *segments):
        assert 0.0 <= entry["start"] <= entry["end"] <= part.duration + 1e-6
        assert entry["start_offset"] == round(entry["start"] / 0.08) and entry["end_offset"] == round(entry["end"] / 0.08)
    assert words[0]["start"] <= words[1]["start"]
    # the same times qasr's own aligner stage gives for that transcript on that clip
    aligner = Qwen3ForcedAligner(model=str(tiny_aligner))
    aligner.ensure_loaded()
    clip = Audio("clip", part.waveform)
    transcript = Transcript("clip", (TranscriptSegment(Span(0.0, clip.duration), "hello world", language="en"),))
    expected = [(round(w.span.start, 3), round(w.span.end, 3)) for w in
                aligner.process([AlignInput(clip, transcript)])[0].words()]
    assert [(w["start"], w["end"]) for w in words] == expected
    # NeMo's transcribe_speech.py writer takes them as they are
    cfg = OmegaConf.create({"append_pred": False, "pred_name_postfix": None, "audio_dir": "x",
                            "output_filename": str(tmp_path / "out.json"),
                            "decoding": {"beam": {"return_best_hypothesis": True}}})
    write_transcription([hypothesis], cfg, "qwen3", filepaths=["clip.wav"], timestamps=True)
    written = json.loads((tmp_path / "out.json").read_text())
    assert [w["word"] for w in written["word"]] == ["hello", "world"] and written["segment"][0]["end_offset"] >= 0


def test_aligner_travels_in_the_nemo_file(timed_model: Qwen3ASRModel, sample_wav: Path, tmp_path: Path) -> None:
    path = tmp_path / "timed.nemo"
    timed_model.save_to(str(path))
    restored = Qwen3ASRModel.restore_from(str(path), map_location="cpu")
    assert any(k.startswith("aligner_model.") for k in restored.state_dict())
    assert restored.cfg.aligner.settings.batch_size == 2
    waveform = load_audio(sample_wav).crop(Span(6.0, 11.0)).waveform
    assert (restored.transcribe([waveform], timestamps=True, verbose=False)[0].timestamp
            == timed_model.transcribe([waveform], timestamps=True, verbose=False)[0].timestamp)
    with pytest.raises(ConfigError) as unknown:
        Qwen3ASRModel.from_pretrained(str(sample_wav.parent), aligner="x", aligner_settings={"fallback": "ctc.aligner"})
    assert unknown.value.code == "C102" and unknown.value.where == "aligner_settings"


def test_nemo_file_round_trip_in_process(random_model: Qwen3ASRModel, sample_wav: Path, tmp_path: Path) -> None:
    path = tmp_path / "qwen3.nemo"
    random_model.save_to(str(path))
    restored = ASRModel.restore_from(str(path), map_location="cpu")
    assert type(restored) is Qwen3ASRModel
    original, loaded = random_model.state_dict(), restored.state_dict()
    assert original.keys() == loaded.keys() and all(torch.equal(original[k], loaded[k]) for k in original)
    assert restored.cfg.transcribe.max_new_tokens == TOKENS
    assert restored.transcribe([str(sample_wav)], verbose=False) == random_model.transcribe([str(sample_wav)],
                                                                                          verbose=False)
    again = tmp_path / "again.nemo"
    restored.save_to(str(again))  # a restored model saves again (its artifact is carried over)
    assert Qwen3ASRModel.restore_from(str(again), map_location="cpu").transcribe(
        [str(sample_wav)], verbose=False) == restored.transcribe([str(sample_wav)], verbose=False)


PRE_MOVE_CONFIG = Path(__file__).parents[2] / "data" / "nemo" / "qwen3_asr_model_config-0.1.0.yaml"


def test_a_nemo_file_saved_by_0_1_0_restores(scripted_model: Qwen3ASRModel, sample_wav: Path, tmp_path: Path) -> None:
    """A .nemo file written by qasr 0.1.0 (when the facade was the module ``qasr_plugins/adapters/nemo.py``) names
    its class ``qasr_plugins.adapters.nemo.Qwen3ASRModel``; that name still restores, by NeMo's own generic
    ``ASRModel.restore_from`` in a fresh process. The file is today's weights with 0.1.0's stored config (its
    artifact name replaced by this file's)."""
    import tarfile

    fresh = tmp_path / "fresh.nemo"
    scripted_model.save_to(str(fresh))
    with tarfile.open(fresh) as archive:
        archive.extractall(tmp_path / "parts", filter="data")
    [artifact] = (tmp_path / "parts").glob("*_checkpoint_files.tar")
    old_config = PRE_MOVE_CONFIG.read_text()
    assert "target: qasr_plugins.adapters.nemo.Qwen3ASRModel" in old_config
    assert scripted_model.cfg.target == "qasr_plugins.adapters.nemo.Qwen3ASRModel"  # what new files record too
    (tmp_path / "parts" / "model_config.yaml").write_text(
        re.sub(r"nemo:\w+_checkpoint_files.tar", f"nemo:{artifact.name}", old_config))
    legacy = tmp_path / "legacy.nemo"
    with tarfile.open(legacy, "w") as archive:
        for part in sorted((tmp_path / "parts").iterdir()):
            archive.add(part, arcname=f"./{part.name}")
    script = textwrap.dedent(f"""
        from qasr_plugins.adapters.nemo import Qwen3ASRModel  # adds the class to NeMo's allow-list
        from nemo.collections.asr.models import ASRModel
        model = ASRModel.restore_from({str(legacy)!r}, map_location="cpu")
        print(type(model).__module__, type(model).__name__, model.transcribe([{str(sample_wav)!r}], verbose=False)[0])
        """)
    result = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True,
                            env=dict(os.environ, HF_HUB_OFFLINE="1"), cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "qasr_plugins.adapters.nemo Qwen3ASRModel hello world"


def test_nemo_transcription_script_flow_in_a_fresh_process(scripted_model: Qwen3ASRModel, sample_wav: Path,
                                                           tmp_path: Path) -> None:
    """What NeMo's examples/asr/transcribe_speech.py does: restore by stored class, transcribe a manifest with the
    model's transcribe config, write predictions — with nothing of qasr imported beforehand."""
    path = tmp_path / "scripted.nemo"
    scripted_model.save_to(str(path))
    manifest = tmp_path / "in.json"
    manifest.write_text(json.dumps({"audio_filepath": str(sample_wav), "duration": 30.0, "text": "x"}) + "\n")
    script = textwrap.dedent(f"""
        import torch
        from omegaconf import OmegaConf
        from nemo.collections.asr.parts.utils.transcribe_utils import setup_model, write_transcription
        cfg = OmegaConf.create({{"model_path": {str(path)!r}, "pretrained_name": None, "audio_dir": None,
                                 "dataset_manifest": {str(manifest)!r}, "append_pred": False,
                                 "pred_name_postfix": None, "output_filename": {str(tmp_path / "out.json")!r},
                                 "decoding": {{"beam": {{"return_best_hypothesis": True}}}}}})
        model, name = setup_model(cfg, torch.device("cpu"))
        options = model.get_transcribe_config()
        options.batch_size, options.return_hypotheses, options.verbose = 2, True, False
        hypotheses = model.transcribe(audio={str(manifest)!r}, override_config=options)
        write_transcription(hypotheses, cfg, name, compute_langs=True)
        print(type(model).__name__, name)
        """)
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    result = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, env=env,
                            cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "Qwen3ASRModel scripted"
    [line] = (tmp_path / "out.json").read_text().splitlines()
    written = json.loads(line)
    assert written["pred_text"] == "hello world" and written["pred_lang"] == "en" and written["text"] == "x"


def test_texts_join_without_spaces_where_languages_write_none() -> None:
    def transcript(*pieces: tuple[str, str]) -> Transcript:
        return Transcript("u", tuple(TranscriptSegment(Span(i, i + 1), text, language=language)
                                     for i, (text, language) in enumerate(pieces)))

    assert transcript_text(transcript(("你好", "zh"), ("世界", "zh"))) == "你好世界"
    assert transcript_text(transcript(("hello", "en"), (" world ", "en"), ("", None))) == "hello world"
    assert transcript_text(transcript(("hello", "en"), ("世界", "zh-x-sichuan"))) == "hello世界"


def test_export_nemo_command(scripted: Path, tiny_aligner: Path, sample_wav: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from qasr_plugins.cli import app

    output = tmp_path / "models" / "qwen3.nemo"
    command = ["export-nemo", str(scripted), str(output), "language=English", "max_new_tokens=64",
               "aligner.max_window=60", "--aligner", str(tiny_aligner)]
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 0, result.output
    assert f"wrote {output}" in result.output and not list(output.parent.glob(".*partial"))
    model = Qwen3ASRModel.restore_from(str(output), map_location="cpu")
    assert model.cfg.transcribe.language == "English" and model.cfg.transcribe.max_new_tokens == 64
    assert model.cfg.aligner.settings.max_window == 60
    [hypothesis] = model.transcribe([str(sample_wav)], timestamps=True, verbose=False)
    assert hypothesis.text == "hello world" and len(hypothesis.timestamp["word"]) == 2
    again = CliRunner().invoke(app, command)
    assert again.exit_code == 2 and "C151" in again.output and "--overwrite" in again.output
    assert CliRunner().invoke(app, [*command, "--overwrite"]).exit_code == 0
    typo = CliRunner().invoke(app, ["export-nemo", str(scripted), str(tmp_path / "x.nemo"), "beam_size=4"])
    assert typo.exit_code == 2 and "C102" in typo.output and not (tmp_path / "x.nemo").exists()
    malformed = CliRunner().invoke(app, ["export-nemo", str(scripted), str(tmp_path / "x.nemo"), "language"])
    assert malformed.exit_code == 2 and "C112" in malformed.output


def test_a_qwen3_nemo_file_runs_in_the_nemo_asr_stage(timed_model: Qwen3ASRModel, sample_wav: Path,
                                                      tmp_path: Path) -> None:
    """qasr's own nemo.asr stage takes the .nemo file like any NeMo ASR model, timestamps included — in a fresh
    process where nothing has imported the facade module (the stage lets NeMo accept qasr's own stored class)."""
    path = tmp_path / "timed.nemo"
    timed_model.save_to(str(path))
    script = textwrap.dedent(f"""
        import json, sys
        from qasr_plugins.audio import load_audio
        from qasr_plugins.stage import AsrInput
        from qasr_plugins.adapters.nemo.asr import NemoAsr
        from qasr_plugins.types import Span, SpeechRegions
        assert "qasr_plugins.adapters.nemo.qwen3_model" not in sys.modules
        stage = NemoAsr(model={str(path)!r}, timestamps=True, language="en")
        stage.ensure_loaded()
        speech = SpeechRegions("sample", (Span(6.0, 11.0),))
        [transcript] = stage.process([AsrInput(load_audio({str(sample_wav)!r}), speech=speech)])
        print(json.dumps(transcript.to_dict()))
        """)
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    result = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, env=env,
                            cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    [segment] = Transcript.from_dict(json.loads(result.stdout.strip().splitlines()[-1])).segments
    assert segment.text == "hello world" and segment.span == Span(6.0, 11.0)
    assert [w.text for w in segment.words] == ["hello", "world"]
    assert all(6.0 <= w.span.start <= w.span.end <= 11.0 for w in segment.words)
