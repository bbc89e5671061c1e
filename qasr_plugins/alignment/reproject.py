"""Rebuild display words around timed aligner units.

The aligner times punctuation-free units (:mod:`qasr_plugins.alignment.text`); users want the words as written:
``"Hello,"`` with its comma, ``"2025"`` as written, ``"U.S."`` with its dots. Each display word is a
whitespace-separated token of the original text (split further into single units for text written without
spaces: Chinese, Cantonese, Japanese, and CJK characters inside other languages). Its span covers the spans of
the units read from it. Tokens with no unit at all (``"—"``, ``"..."``) are glued to the preceding word (or to
the following one at the start of the text) so that no character of the text is lost.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from qasr_plugins.alignment.text import Unit
from qasr_plugins.languages import is_spaceless
from qasr_plugins.types import Span, Word

_TOKEN = re.compile(r"\S+")


@dataclass(frozen=True)
class TimedUnit:
    """A unit with its span (``None`` when it could not be timed) and the flags QC gave it."""

    unit: Unit
    span: Span | None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class DisplayPiece:
    """A stretch ``text[start:stop]`` of the original text and the indices of the units read from it."""

    start: int
    stop: int
    units: tuple[int, ...]


def display_pieces(text: str, units: Sequence[Unit], language: str | None) -> list[DisplayPiece]:
    """Cut ``text`` into display words, each owning at least one unit (empty when no unit exists)."""
    spaceless = is_spaceless(language)
    pieces: list[DisplayPiece] = []
    leading: int | None = None  # start of unit-less tokens seen before the first piece
    index = 0
    for match in _TOKEN.finditer(text):
        owned: list[int] = []
        while index < len(units) and units[index].start < match.end():
            owned.append(index)
            index += 1
        if not owned:
            if pieces:
                last = pieces[-1]
                pieces[-1] = DisplayPiece(last.start, match.end(), last.units)
            elif leading is None:
                leading = match.start()
            continue
        if spaceless or any(units[i].is_cjk_char for i in owned):
            bounds = [match.start()] + [units[i].start for i in owned[1:]] + [match.end()]
            pieces.extend(DisplayPiece(bounds[k], bounds[k + 1], (i,)) for k, i in enumerate(owned))
        else:
            pieces.append(DisplayPiece(match.start(), match.end(), tuple(owned)))
        if leading is not None:
            first = pieces[0]
            pieces[0] = DisplayPiece(leading, first.stop, first.units)
            leading = None
    return pieces


def reproject(text: str, timed: Sequence[TimedUnit], language: str | None) -> tuple[Word, ...]:
    """Display words of ``text`` whose spans and flags come from the ``timed`` units read from them."""
    words: list[Word] = []
    for piece in display_pieces(text, [t.unit for t in timed], language):
        members = [timed[i] for i in piece.units]
        spans = [m.span for m in members if m.span is not None]
        span = Span(min(s.start for s in spans), max(s.end for s in spans)) if spans else None
        flags = tuple(dict.fromkeys(f for m in members for f in m.flags))
        unit = "char" if len(members) == 1 and members[0].unit.is_cjk_char else "word"
        words.append(Word(text[piece.start:piece.stop], span, unit=unit, flags=flags))
    return tuple(words)
