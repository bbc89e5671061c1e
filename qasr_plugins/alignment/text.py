"""Split transcript text into the units the Qwen3 forced aligner times, keeping where each unit came from.

The rules follow the official aligner: punctuation and symbols are dropped (letters, numbers and the apostrophe
are kept); CJK ideographs become one unit each; Japanese is split into words by ``nagisa`` and Korean by
``soynlp``'s ``LTokenizer`` (optional extras ``qasr-plugins[ja]`` / ``[ko]``); every other language is split on
whitespace. Each unit records the character range of the original text it was read from, so that display text
(punctuation, casing, numbers) can be rebuilt around the timed units (:mod:`qasr_plugins.alignment.reproject`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from qasr_plugins.errors import StageError
from qasr_plugins.languages import normalize_language


@dataclass(frozen=True)
class Unit:
    """One aligned item: ``text`` is what the aligner sees; ``start``/``stop`` index the original string."""

    text: str
    start: int
    stop: int

    @property
    def is_cjk_char(self) -> bool:
        return len(self.text) == 1 and is_cjk_char(self.text)


def is_cjk_char(char: str) -> bool:
    """CJK unified ideographs (and their extensions and compatibility block), as the official aligner defines."""
    code = ord(char)
    return (0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x2A6DF
            or 0x2A700 <= code <= 0x2B73F or 0x2B740 <= code <= 0x2B81F or 0x2B820 <= code <= 0x2CEAF
            or 0xF900 <= code <= 0xFAFF)


def is_kept_char(char: str) -> bool:
    """Characters the aligner keeps: letters, numbers and the apostrophe."""
    return char == "'" or unicodedata.category(char)[0] in "LN"


def split_units(text: str, language: str | None, korean_dictionary: str | None = None) -> list[Unit]:
    """The aligner units of ``text`` for ``language`` (a BCP-47 tag; ``None`` uses the whitespace/CJK rules).

    ``korean_dictionary`` is a word list (first column of each line) that soynlp's L-tokenizer uses to split
    Korean words into stem and ending; the official aligner ships one (``korean_dict_jieba.dict``). Without it
    each space-separated Korean word is one unit, as in transformers' processor.

    Raises:
        StageError: ``S410`` when Japanese or Korean is asked for and its tokenizer is not installed.
    """
    code = normalize_language(language)
    if code == "ja":
        pieces = _japanese_tokenizer()(text)
    elif code == "ko":
        pieces = _korean_tokenizer(korean_dictionary)(text)
    else:
        pieces = _whitespace_pieces(text)
    return _locate([cleaned for piece in pieces if (cleaned := "".join(c for c in piece if is_kept_char(c)))], text)


def _whitespace_pieces(text: str) -> list[str]:
    """Whitespace-separated words, each cleaned, with CJK ideographs split off one by one."""
    pieces: list[str] = []
    for word in text.split():
        buffer = ""
        for char in (c for c in word if is_kept_char(c)):
            if is_cjk_char(char):
                if buffer:
                    pieces.append(buffer)
                pieces.append(char)
                buffer = ""
            else:
                buffer += char
        if buffer:
            pieces.append(buffer)
    return pieces


def _locate(pieces: Sequence[str], text: str) -> list[Unit]:
    """Find each cleaned piece in ``text`` in order (its characters are a subsequence of the text)."""
    units: list[Unit] = []
    cursor = 0
    for piece in pieces:
        first = -1
        for char in piece:
            found = text.find(char, cursor)
            if found < 0:  # a tokenizer normalised a character: fall back to the position reached so far
                found = cursor
            if first < 0:
                first = found
            cursor = found + 1
        units.append(Unit(piece, first, max(cursor, first + 1)))
    return units


def _missing(package: str, extra: str, language: str) -> StageError:
    return StageError(f"aligning {language} text needs the '{package}' tokenizer, which is not installed.",
                      code="S410", hint=f"Install it with: pip install 'qasr-plugins[{extra}]' (or pip install "
                                        f"{package}), or route {language} to another aligner with "
                                        "'fallback: ctc.aligner'.")


@lru_cache(maxsize=1)
def _japanese_tokenizer() -> Callable[[str], list[str]]:
    try:
        import nagisa
    except ImportError as exc:
        raise _missing("nagisa", "ja", "Japanese") from exc
    return lambda text: list(nagisa.tagging(text).words)


@lru_cache(maxsize=4)
def _korean_tokenizer(dictionary: str | None) -> Callable[[str], list[str]]:
    try:
        from soynlp.tokenizer import LTokenizer
    except ImportError as exc:
        raise _missing("soynlp", "ko", "Korean") from exc
    tokenizer = LTokenizer(scores=_korean_scores(dictionary))
    return lambda text: list(tokenizer.tokenize(text))


def _korean_scores(dictionary: str | None) -> dict[str, float]:
    """Scores 1.0 for every word of the list (its first column), as the official aligner does."""
    if dictionary is None:
        return {}
    try:
        lines = Path(dictionary).expanduser().read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise StageError(f"cannot read the Korean word list {dictionary!r} ({exc.strerror})",
                         where="korean_dictionary", code="S412",
                         hint="Point 'korean_dictionary' at a text file with one word per line, or remove it."
                         ) from exc
    return {line.split()[0]: 1.0 for line in lines if line.strip()}
