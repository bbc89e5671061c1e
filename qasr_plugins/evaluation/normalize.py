"""The text normalisation applied to both sides before any word-level metric (documented in ``docs/eval.md``).

1. Unicode NFKC (full-width forms → ASCII, compatibility characters folded), then case folding.
2. Curly apostrophes become ``'``; an apostrophe between two letters is kept (``don't``), any other punctuation
   or symbol character (Unicode categories ``P*`` and ``S*``) becomes a space (``twenty-one`` → ``twenty one``).
3. Every CJK ideograph or kana character is a token of its own (so WER on Chinese/Japanese is a character error
   rate); other text is split on whitespace.
"""

from __future__ import annotations

import re
import unicodedata

_CJK = re.compile(r"([\u3040-\u30FF\u3400-\u4DBF\u4E00-\u9FFF\uF900-\uFAFF])")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


def normalize(text: str) -> list[str]:
    """The scoring tokens of ``text``."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_APOSTROPHES)
    chars = list(text)
    for i, char in enumerate(chars):
        if char == "'" and 0 < i < len(chars) - 1 and chars[i - 1].isalnum() and chars[i + 1].isalnum():
            continue
        if unicodedata.category(char)[0] in "PS":
            chars[i] = " "
    return _CJK.sub(r" \1 ", "".join(chars)).split()
