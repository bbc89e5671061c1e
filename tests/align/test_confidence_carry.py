"""Aligners keep the ASR's word confidences: re-timed words keep theirs, re-split words map by text position."""

from __future__ import annotations

import pytest

from qasr_plugins.alignment.confidence import carry_confidence, locate
from qasr_plugins.stage import AlignInput
from qasr_plugins.types import Span, TokenLogprob, Transcript, TranscriptSegment, Word

pytest.importorskip("transformers.models.qwen3_asr")


def _words(*pairs: tuple[str, float | None]) -> tuple[Word, ...]:
    return tuple(Word(text, confidence=confidence) for text, confidence in pairs)


def test_confidences_map_by_text_position() -> None:
    text = "你好，我 well-known"
    old = _words(("你", 0.9), ("好，", 0.5), ("我", 0.2), ("well-known", None))
    new = _words(("你", None), ("好", None), ("，我", None), ("well-known", None))
    assert [w.confidence for w in carry_confidence(text, old, new)] == [0.9, 0.5, pytest.approx(0.35), None]
    merged = carry_confidence("a b", _words(("a", 0.2), ("b", 0.6)), _words(("a b", None)))
    assert merged[0].confidence == pytest.approx(0.4)
    assert locate("x y x", _words(("x", None), ("x", None), ("z", None))) == [(0, 1), (4, 5), None]
    assert carry_confidence("a", (), _words(("a", 0.3))) == _words(("a", 0.3))


def test_qwen3_aligner_keeps_confidences_and_tokens(tiny_aligner_stage, speechlike) -> None:
    audio = speechlike(8.0, [(0.5, 7.5)])
    tokens = (TokenLogprob("Hello", -0.1, tuple(b"Hello")),)
    transcript = Transcript("x", (
        TranscriptSegment(Span(0.5, 3.5), "Hello, world!", "en", words=_words(("Hello,", 0.8), ("world!", 0.3)),
                          tokens=tokens),
        TranscriptSegment(Span(4.0, 7.5), "مرحبا بالعالم", "ar", words=_words(("مرحبا", 0.7), ("بالعالم", 0.6))),
    ))
    out = tiny_aligner_stage(AlignInput(audio, transcript))
    english, arabic = out.segments
    assert [(w.text, w.confidence) for w in english.words] == [("Hello,", 0.8), ("world!", 0.3)]
    assert all(w.span is not None for w in english.words) and english.tokens == tokens
    assert [(w.confidence, w.flags) for w in arabic.words] == [(0.7, ("untimed",)), (0.6, ("untimed",))]
