"""Agreement with the official qwen-asr package on the same tiny weights (recorded by
scripts/make_qwen3_asr_golden.py): prompt tokens, greedy tokens, text, language and logits.

Inputs shorter than one encoder chunk (100 mel frames, 1 s) are the one known divergence: alone in a batch, the
official code runs the convolutions on the unpadded chunk, while transformers' encoder (and the official code when
the clip shares a batch with a longer one) pads every chunk to 100 frames. For those only the prompt is compared,
and the difference is asserted to exist so that a change on either side is noticed (see docs/qwen3.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qasr_plugins.audio import load_audio
from qasr_plugins.types import Span

GOLDEN = Path(__file__).parents[1] / "data" / "golden" / "qwen3_asr_tiny.json"
FIRST_SPECIAL = 151643


@pytest.fixture(scope="module")
def golden() -> dict:
    return json.loads(GOLDEN.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def checked_checkpoint(tiny_asr_original: Path, golden: dict) -> Path:
    import hashlib

    digest = hashlib.sha256()
    for name in ("model.safetensors", "config.json", "vocab.json", "merges.txt", "tokenizer_config.json"):
        digest.update((tiny_asr_original / name).read_bytes())
    # A different checkpoint is a failure, never a skip: the goldens would silently stop guarding agreement with the
    # official package. Regenerate them in the reference environment (scripts/make_qwen3_asr_golden.py).
    assert digest.hexdigest()[:16] == golden["checkpoint_digest"], (
        "this torch/tokenizers build makes a different tiny checkpoint than the one the golden file was recorded on; "
        "regenerate it with scripts/make_qwen3_asr_golden.py in the reference environment")
    return tiny_asr_original


def _stage(checkpoint: Path, record: dict, max_new_tokens: int):
    from qasr_plugins.qwen3.asr import Qwen3Asr

    stage = Qwen3Asr(model=str(checkpoint), language=record["language"], context=record["context"],
                     max_new_tokens=max_new_tokens, repetition_threshold=0, batch_size=1)
    stage.ensure_loaded()
    return stage


def test_stage_matches_official_package(checked_checkpoint: Path, golden: dict, sample_wav: Path) -> None:
    import torch

    from qasr_plugins.stage import AsrInput
    from qasr_plugins.types import SpeechRegions

    audio = load_audio(sample_wav)
    stages = {}
    kept = np.r_[0:golden["reachable"], FIRST_SPECIAL:151936]
    for record in golden["records"]:
        key = (record["language"], record["context"])
        if key not in stages:
            stages[key] = _stage(checked_checkpoint, record, golden["max_new_tokens"])
        stage = stages[key]
        start, duration = record["clip"]
        span = Span(start, start + duration)
        clip = audio.crop(span).waveform
        assert abs(float(np.sum(clip, dtype=np.float64)) - record["clip_sum"]) < 1e-6
        waveform = np.pad(clip, (0, max(0, record["samples"] - len(clip))))
        inputs = stage.prompts([waveform])
        assert inputs["input_ids"][0].tolist() == record["prompt_ids"], record["case"]
        if record["samples"] < 16_000:
            with torch.inference_mode():
                logits = stage.model(**inputs, logits_to_keep=1).logits[0, -1].float().numpy()[kept]
            assert not np.allclose(logits, record["first_logits"], rtol=1e-4, atol=1e-4)
            continue
        with torch.inference_mode():
            out = stage.model.generate(**inputs, max_new_tokens=golden["max_new_tokens"], do_sample=False,
                                       output_logits=True, return_dict_in_generate=True)
        generated = out.sequences[0, inputs["input_ids"].shape[1]:].tolist()
        assert generated == record["generated_ids"], (record["clip"], record["case"])
        first = out.logits[0][0].float().numpy()[kept]
        np.testing.assert_allclose(first, record["first_logits"], rtol=1e-4, atol=1e-4, err_msg=str((record["clip"], record["case"])))
        chosen = [float(step[0, token]) for step, token in zip(out.logits, generated)]
        np.testing.assert_allclose(chosen, record["chosen_logits"], rtol=1e-4, atol=1e-4)
        transcript = stage.process([AsrInput(audio, SpeechRegions(audio.uri, (span,)))])[0]
        (segment,) = transcript.segments
        assert segment.span == span
        assert segment.text == record["text"]
        assert (segment.language_raw or "") == (record["parsed_language"] or "")
