"""Display text of timed words: each word keeps the punctuation and spacing that follow it in its segment's text.

Aligners strip punctuation from the words they time (``Hello`` for ``"Hello,"``); subtitles, re-split segments and
WhisperX-style output want it back. :func:`word_pieces` finds each word in the segment text, in order, and gives it
everything up to the next word.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from qasr_plugins.types import TranscriptSegment, Word


@dataclass(frozen=True)
class Piece:
    """One word's display text (``text``, stripped) and the whitespace that follows it (``gap``)."""

    text: str
    gap: str


def _locate(haystack: str, folded: str | None, needle: str, cursor: int) -> int:
    found = haystack.find(needle, cursor)
    if found < 0 and folded is not None:
        found = folded.find(needle.lower(), cursor)
    return found


def word_pieces(text: str, words: Sequence[Word]) -> list[Piece]:
    """Split ``text`` at the words' positions so that punctuation stays with the word before it.

    Leading text before the first word goes with the first word. A word that cannot be found in ``text`` is shown
    as its own text, followed by a space unless it is a character unit.
    """
    folded = text.lower() if len(text.lower()) == len(text) else None
    starts: list[int | None] = []
    cursor = 0
    for word in words:
        found = _locate(text, folded, word.text, cursor) if word.text else -1
        if found >= 0:
            starts.append(found)
            cursor = found + len(word.text)
        else:
            starts.append(None)
    pieces: list[Piece] = []
    for index, word in enumerate(words):
        start = starts[index]
        if start is None:
            pieces.append(Piece(word.text, "" if word.unit == "char" else " "))
            continue
        following = starts[index + 1] if index + 1 < len(words) else len(text)
        end = start + len(word.text) if following is None else following
        chunk = text[0 if index == 0 else start:end]
        stripped = chunk.rstrip()
        gap = chunk[len(stripped):] or ("" if following is not None or word.unit == "char" else " ")
        pieces.append(Piece(stripped.lstrip(), gap))
    return pieces


def segment_pieces(segment: TranscriptSegment) -> list[Piece]:
    """The display pieces of a segment's words (see :func:`word_pieces`)."""
    return word_pieces(segment.text, segment.words)
