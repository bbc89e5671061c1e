"""Keep the ASR's word confidences when an aligner re-times (and re-splits) a segment's words.

Words are matched by where they lie in the segment's text: each new word takes the mean confidence of the old
words whose characters overlap its own (none when no old word with a confidence overlaps it). Words are looked up
in the text in order; a word not found there keeps what it has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from qasr_plugins.types import Word


def locate(text: str, words: Sequence[Word]) -> list[tuple[int, int] | None]:
    """The character range of each word in ``text``, searched in order (``None`` for a word not found)."""
    ranges: list[tuple[int, int] | None] = []
    cursor = 0
    for word in words:
        found = text.find(word.text, cursor) if word.text else -1
        if found < 0:
            ranges.append(None)
            continue
        ranges.append((found, found + len(word.text)))
        cursor = found + len(word.text)
    return ranges


def carry_confidence(text: str, old: Sequence[Word], new: Sequence[Word]) -> tuple[Word, ...]:
    """``new`` with confidences taken from ``old`` (both words of ``text``) by text position."""
    known = [(span, w.confidence) for span, w in zip(locate(text, old), old, strict=True)
             if span is not None and w.confidence is not None]
    if not known:
        return tuple(new)
    carried = []
    for span, word in zip(locate(text, new), new, strict=True):
        values = [] if span is None else [c for (low, high), c in known if low < span[1] and span[0] < high]
        carried.append(replace(word, confidence=sum(values) / len(values)) if values else word)
    return tuple(carried)
