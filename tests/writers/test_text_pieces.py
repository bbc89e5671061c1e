"""Words get back the punctuation and spacing that follow them in the segment text."""

from __future__ import annotations

from qasr_plugins.text import Piece, word_pieces
from qasr_plugins.types import Word


def test_punctuation_stays_with_the_word_before_it() -> None:
    pieces = word_pieces("  ¿Hello, world. How are you?", [Word(w) for w in ("hello", "world", "How", "are", "you")])
    assert [p.text for p in pieces] == ["¿Hello,", "world.", "How", "are", "you?"]
    assert [p.gap for p in pieces] == [" ", " ", " ", " ", ""]


def test_cjk_characters_have_no_gaps() -> None:
    pieces = word_pieces("你好，世界。", [Word(c, unit="char") for c in "你好世界"])
    assert pieces == [Piece("你", ""), Piece("好，", ""), Piece("世", ""), Piece("界。", "")]


def test_a_word_missing_from_the_text_is_shown_as_itself() -> None:
    pieces = word_pieces("alpha beta gamma", [Word("alpha"), Word("delta"), Word("gamma")])
    assert [(p.text, p.gap) for p in pieces] == [("alpha", " "), ("delta", " "), ("gamma", "")]
