"""Tiny checkpoints, the loading path and the original → native converter, on real files and real models."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from qasr_plugins.errors import StageError
from qasr_plugins.qwen3 import tokens
from qasr_plugins.qwen3.convert import ConversionError, convert_checkpoint
from qasr_plugins.qwen3.layout import inspect_checkpoint
from qasr_plugins.qwen3.loading import load_model


def _audio(seconds: float = 2.0) -> np.ndarray:
    return (0.1 * np.random.default_rng(1).normal(size=int(seconds * 16000))).astype(np.float32)


def test_layouts_are_recognised(tiny_asr: Path, tiny_asr_original: Path, tiny_aligner: Path,
                                tiny_aligner_original: Path) -> None:
    found = {(i.kind, i.layout) for i in map(inspect_checkpoint, (tiny_asr, tiny_asr_original, tiny_aligner,
                                                                   tiny_aligner_original))}
    assert found == {("asr", "native"), ("asr", "original"), ("forced_aligner", "native"),
                     ("forced_aligner", "original")}


def test_native_files_match_the_released_format(tiny_asr: Path) -> None:
    names = {p.name for p in tiny_asr.iterdir()}
    assert {"config.json", "model.safetensors", "generation_config.json", "processor_config.json",
            "tokenizer.json", "tokenizer_config.json", "chat_template.jinja"} <= names
    config = json.loads((tiny_asr / "config.json").read_text())
    assert config["model_type"] == "qwen3_asr" and config["audio_token_id"] == tokens.AUDIO_PAD_ID


def test_tokenizer_keeps_real_special_ids(tiny_asr: Path) -> None:
    from transformers import AutoProcessor

    tokenizer = AutoProcessor.from_pretrained(str(tiny_asr)).tokenizer
    for token_id, content, _ in tokens.ADDED_TOKENS:
        assert tokenizer.convert_tokens_to_ids(content) == token_id
    ids = tokenizer("language English<asr_text>hello").input_ids
    assert tokens.ASR_TEXT_ID in ids and max(i for i in ids if i != tokens.ASR_TEXT_ID) < 1000
    assert tokenizer.decode(ids) == "language English<asr_text>hello"


def test_builds_are_deterministic(tiny_asr: Path, tmp_path: Path) -> None:
    from qasr_plugins.qwen3.tiny import build_tiny

    again = build_tiny(tmp_path / "again")
    assert (again / "model.safetensors").read_bytes() == (tiny_asr / "model.safetensors").read_bytes()


def test_native_checkpoint_loads_and_generates(tiny_asr: Path) -> None:
    import torch

    loaded = load_model(str(tiny_asr), kind="asr")
    assert loaded.checkpoint == tiny_asr.resolve() and loaded.source.layout == "native"
    inputs = loaded.processor.apply_transcription_request([_audio()])
    with torch.inference_mode():
        out = loaded.model.generate(**inputs, max_new_tokens=3, do_sample=False)
    assert out.shape[1] == inputs["input_ids"].shape[1] + 3


@pytest.mark.parametrize("kind", ["asr", "forced_aligner"])
def test_converted_original_gives_the_same_logits(kind: str, request: pytest.FixtureRequest,
                                                  tmp_path: Path) -> None:
    import torch

    native = request.getfixturevalue("tiny_asr" if kind == "asr" else "tiny_aligner")
    original = request.getfixturevalue("tiny_asr_original" if kind == "asr" else "tiny_aligner_original")
    report = convert_checkpoint(original, tmp_path / "converted")
    assert report.kind == kind and report.target.is_dir()
    direct, converted = load_model(str(native), kind=kind), load_model(str(report.target), kind=kind)
    if kind == "asr":
        inputs = direct.processor.apply_transcription_request([_audio()], language="en")
    else:
        inputs, _ = direct.processor.prepare_forced_aligner_inputs(_audio(), "hello world", language="en")
    with torch.inference_mode():
        expected, got = direct.model(**inputs).logits, converted.model(**inputs).logits
    assert torch.equal(expected, got)
    assert converted.processor.tokenizer(["hi <|audio_pad|>"]).input_ids == \
        direct.processor.tokenizer(["hi <|audio_pad|>"]).input_ids
    assert converted.processor.chat_template == direct.processor.chat_template


def test_original_is_converted_once_into_the_cache(tiny_asr_original: Path, qasr_cache: Path) -> None:
    first = load_model(str(tiny_asr_original), kind="asr")
    assert first.source.layout == "original" and qasr_cache in first.checkpoint.parents
    stamp = (first.checkpoint / "model.safetensors").stat().st_mtime_ns
    second = load_model(str(tiny_asr_original), kind="asr")
    assert second.checkpoint == first.checkpoint
    assert (second.checkpoint / "model.safetensors").stat().st_mtime_ns == stamp


def _tampered(original: Path, tmp_path: Path, extra: bool) -> Path:
    from safetensors.torch import load_file, save_file

    copy = tmp_path / "tampered"
    shutil.copytree(original, copy)
    weights = load_file(str(copy / "model.safetensors"))
    if extra:
        weights["thinker.audio_tower.mystery.weight"] = weights["thinker.audio_tower.ln_post.weight"].clone()
    else:
        del weights["thinker.model.norm.weight"]
    save_file(weights, str(copy / "model.safetensors"))
    return copy


@pytest.mark.parametrize("extra", [True, False], ids=["unmapped-tensor", "missing-tensor"])
def test_incomplete_mapping_fails_loudly(tiny_asr_original: Path, tmp_path: Path, extra: bool) -> None:
    source = _tampered(tiny_asr_original, tmp_path, extra)
    with pytest.raises(ConversionError) as info:
        convert_checkpoint(source, tmp_path / "out")
    assert info.value.code == "S421"
    name = "thinker.audio_tower.mystery.weight" if extra else "model.language_model.norm.weight"
    assert name in info.value.message
    assert not (tmp_path / "out").exists()


def test_convert_command(tiny_asr_original: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from qasr_plugins.cli import app

    result = CliRunner().invoke(app, ["convert", str(tiny_asr_original), str(tmp_path / "hf")])
    assert result.exit_code == 0, result.output
    assert "converted asr checkpoint" in result.output
    assert inspect_checkpoint(tmp_path / "hf").layout == "native"
    again = CliRunner().invoke(app, ["convert", str(tiny_asr_original), str(tmp_path / "hf")])
    assert again.exit_code == 2 and "S422" in again.output


def test_offline_hub_id_not_cached_names_the_model(tmp_path: Path) -> None:
    with pytest.raises(StageError) as info:
        load_model("Qwen/Qwen3-ASR-0.6B-hf", kind="asr", cache_dir=str(tmp_path))
    assert info.value.code == "S404"
    assert "Qwen/Qwen3-ASR-0.6B-hf" in info.value.message and "local directory" in info.value.hint
    assert "`hf download Qwen/Qwen3-ASR-0.6B-hf`" in info.value.hint


def test_missing_directory_and_wrong_kind(tiny_aligner: Path, tmp_path: Path) -> None:
    with pytest.raises(StageError) as info:
        load_model(str(tmp_path / "nowhere"), kind="asr")
    assert info.value.code == "S404" and "no such directory" in info.value.message
    assert "download" not in info.value.hint  # a path is not a hub id
    with pytest.raises(StageError) as info:
        load_model(str(tiny_aligner), kind="asr")
    assert info.value.code == "S405"


def test_loading_draws_no_progress_bar_of_its_own(tiny_asr: Path, capfd: pytest.CaptureFixture[str]) -> None:
    from transformers.utils import logging

    load_model(str(tiny_asr), kind="asr")
    assert "Loading weights" not in capfd.readouterr().err  # qasr's own progress display owns the terminal
    assert logging.is_progress_bar_enabled()  # transformers' setting is the caller's again
