"""Token log-probabilities and word confidences of ``qwen3.asr``, and their place in the result JSON."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from qasr_plugins.qwen3.confidence import heard_words, word_ranges
from qasr_plugins.stage import AsrInput
from qasr_plugins.types import Audio, Span, TokenLogprob, TranscriptSegment


def _tokens(*pieces: tuple[str, float]) -> tuple[TokenLogprob, ...]:
    return tuple(TokenLogprob(text, logprob, tuple(text.encode())) for text, logprob in pieces)


def test_word_confidence_is_the_geometric_mean_of_its_tokens() -> None:
    tokens = _tokens(("Hel", -0.1), ("lo", -0.3), (",", -0.2), (" wor", -1.0), ("ld", -2.0))
    words = heard_words("Hello, world", "en", tokens)
    assert [w.text for w in words] == ["Hello,", "world"]
    assert words[0].confidence == pytest.approx(math.exp(-0.2))
    assert words[1].confidence == pytest.approx(math.exp(-1.5))
    assert all(w.span is None and w.unit == "word" for w in words)


def test_cjk_characters_are_words_of_their_own_even_across_split_bytes() -> None:
    raw = "你好".encode()
    tokens = (TokenLogprob("你", -0.5, tuple(raw[:3])), TokenLogprob("\ufffd", -1.0, tuple(raw[3:4])),
              TokenLogprob("\ufffd", -3.0, tuple(raw[4:])))
    words = heard_words("你好", "zh", tokens)
    assert [(w.text, w.unit) for w in words] == [("你", "char"), ("好", "char")]
    assert words[0].confidence == pytest.approx(math.exp(-0.5))
    assert words[1].confidence == pytest.approx(math.exp(-2.0))
    assert word_ranges("ok 東京 ok", "en") == [(0, 2), (3, 4), (4, 5), (6, 8)]


def test_words_have_no_confidence_when_tokens_do_not_spell_the_text() -> None:
    words = heard_words("ha", "en", _tokens(("ha", -0.1), ("ha", -0.1), ("ha", -0.1)))
    assert [w.confidence for w in words] == [pytest.approx(math.exp(-0.1))]
    (word,) = heard_words("collapsed", "en", _tokens(("other", -0.1)))
    assert word.confidence is None


def test_tokens_are_serialized_only_when_present() -> None:
    plain = TranscriptSegment(Span(0, 1), "hi")
    assert "tokens" not in plain.to_dict() and TranscriptSegment.from_dict(plain.to_dict()) == plain
    timed = TranscriptSegment(Span(0, 1), "hi", tokens=_tokens(("hi", -0.25)))
    assert timed.to_dict()["tokens"] == [{"token": "hi", "logprob": -0.25, "bytes": [104, 105]}]
    assert TranscriptSegment.from_dict(timed.to_dict()) == timed
    with pytest.raises(ValueError, match="logprob"):
        TokenLogprob("x", 0.5)


def test_scripted_answer_gives_its_tokens_and_certain_words(tmp_path: Path) -> None:
    from qasr_plugins.qwen3.asr import Qwen3Asr
    from qasr_plugins.qwen3.tiny import build_scripted

    stage = Qwen3Asr(model=str(build_scripted(tmp_path / "c", "language English<asr_text>Hello world. 好")),
                     max_new_tokens=24)
    stage.ensure_loaded()
    audio = Audio("noise", np.random.default_rng(0).normal(0, 0.1, 48000).astype(np.float32))
    (segment,) = stage(AsrInput(audio)).segments
    assert segment.text == "Hello world. 好"
    assert b"".join(bytes(t.bytes) for t in segment.tokens).decode() == "Hello world. 好"
    assert [(w.text, w.unit) for w in segment.words] == [("Hello", "word"), ("world.", "word"), ("好", "char")]
    assert all(w.confidence == pytest.approx(1.0, abs=1e-3) for w in segment.words)


def test_logprobs_are_those_of_a_teacher_forced_pass(tiny_asr: Path, sample_wav: Path) -> None:
    import torch

    from qasr_plugins.audio import load_audio
    from qasr_plugins.qwen3.asr import Qwen3Asr

    stage = Qwen3Asr(model=str(tiny_asr), max_new_tokens=6, repetition_threshold=0)
    stage.ensure_loaded()
    audio = load_audio(sample_wav).crop(Span(3.0, 6.0))
    (segment,) = stage(AsrInput(audio)).segments
    assert segment.tokens and all(t.logprob <= 0 for t in segment.tokens)
    inputs = stage.prompts([audio.waveform])
    prompt = inputs["input_ids"]
    with torch.inference_mode():
        ids = stage.model.generate(**inputs, max_new_tokens=6, do_sample=False)[0, prompt.shape[1]:].tolist()
    forced = torch.cat([prompt, torch.tensor([ids[:-1]])], dim=1)
    inputs["input_ids"] = forced
    inputs["attention_mask"] = torch.ones_like(forced)
    with torch.inference_mode():
        logits = stage.model(**inputs).logits[0, prompt.shape[1] - 1:]
    expected = logits.float().log_softmax(-1).gather(-1, torch.tensor(ids)[:, None])[:, 0]
    assert [t.logprob for t in segment.tokens] == pytest.approx(expected.tolist(), abs=1e-4)
    assert 0 < min(w.confidence for w in segment.words) <= max(w.confidence for w in segment.words) <= 1
