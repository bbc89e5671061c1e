"""Token log-probabilities recorded while Qwen3-ASR decodes, and the word confidences made from them.

While decoding greedily, :class:`LogprobRecorder` (the last logits processor) keeps, for every step and row, the
log-softmax of the chosen token (greedy picks the arg-max of the scores it sees) and that token's id — nothing is
recomputed afterwards. :func:`text_tokens` turns a row's generated ids into
:class:`~qasr_plugins.types.TokenLogprob` entries (text and UTF-8 bytes, as OpenAI's ``logprobs`` has them) for the
transcription part of the answer (after ``<asr_text>``). :func:`heard_words` splits the text into words — one per
whitespace-separated token, one per character for CJK ideographs and text written without spaces — and gives each
word ``exp(mean log-probability)`` (the geometric mean of the probabilities) of the tokens whose bytes overlap it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from qasr_plugins.alignment.text import is_cjk_char
from qasr_plugins.languages import is_spaceless
from qasr_plugins.qwen3.tokens import ASR_TEXT_ID
from qasr_plugins.types import TokenLogprob, Word

_WORD = re.compile(r"\S+")


class LogprobRecorder:
    """A logits processor that records each step's chosen token and its log-probability; it leaves scores as they
    are. Put it last, so the scores it sees are the ones greedy decoding takes the arg-max of."""

    def __init__(self) -> None:
        self.ids: list[Any] = []
        self.logprobs: list[Any] = []

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        best = scores.float().log_softmax(-1).max(-1)
        self.logprobs.append(best.values)
        self.ids.append(best.indices)
        return scores

    def row(self, row: int, generated: Sequence[int]) -> list[float] | None:
        """The log-probabilities of row ``row``'s ``generated`` ids (in step order), or ``None`` when the recorded
        choices are not those ids (decoding was not greedy on these scores)."""
        if len(generated) > len(self.ids):
            return None
        chosen = [int(self.ids[step][row]) for step in range(len(generated))]
        if chosen != list(generated):
            return None
        return [min(0.0, float(self.logprobs[step][row])) for step in range(len(generated))]


@lru_cache(maxsize=1)
def _byte_decoder() -> dict[str, int]:
    """GPT-2 byte-level BPE's printable-character alphabet mapped back to bytes."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(
        range(ord("®"), ord("ÿ") + 1))
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return {chr(code): byte for byte, code in zip(printable, codes, strict=True)}


def token_bytes(tokenizer: Any, token_id: int) -> bytes:
    """The UTF-8 bytes token ``token_id`` stands for (an added token: its content)."""
    piece = tokenizer.convert_ids_to_tokens(int(token_id))
    if token_id in tokenizer.added_tokens_decoder:
        return piece.encode("utf-8")
    decoder = _byte_decoder()
    return bytes(decoder[ch] for ch in piece) if all(ch in decoder for ch in piece) else piece.encode("utf-8")


def text_tokens(tokenizer: Any, ids: Sequence[int], logprobs: Sequence[float]) -> tuple[TokenLogprob, ...]:
    """The tokens of the transcription (those after the answer's first ``<asr_text>``; all of them when the prompt
    forced the language), special tokens left out."""
    start = ids.index(ASR_TEXT_ID) + 1 if ASR_TEXT_ID in ids else 0
    special = set(tokenizer.all_special_ids)
    found = []
    for token_id, logprob in zip(ids[start:], logprobs[start:], strict=True):
        if token_id in special:
            continue
        raw = token_bytes(tokenizer, token_id)
        found.append(TokenLogprob(raw.decode("utf-8", errors="replace"), logprob, tuple(raw)))
    return tuple(found)


def word_ranges(text: str, language: str | None) -> list[tuple[int, int]]:
    """Character ranges of the words of ``text``: whitespace-separated tokens, with CJK ideographs (and every
    character of text written without spaces) one word each."""
    spaceless = is_spaceless(language)
    ranges: list[tuple[int, int]] = []
    for match in _WORD.finditer(text):
        word = match.group()
        if spaceless or any(is_cjk_char(ch) for ch in word):
            ranges.extend((match.start() + k, match.start() + k + 1) for k in range(len(word)))
        else:
            ranges.append(match.span())
    return ranges


def heard_words(text: str, language: str | None, tokens: Sequence[TokenLogprob]) -> tuple[Word, ...]:
    """Untimed words of ``text`` with confidences from ``tokens`` (whose bytes spell out ``text``, up to
    surrounding whitespace); words get no confidence when the tokens do not spell the text (e.g. after a
    repetition was collapsed)."""
    spelled = b"".join(bytes(t.bytes) for t in tokens)
    encoded = text.encode("utf-8")
    shift = spelled.find(encoded) if encoded else -1
    ends: list[int] = []
    total = 0
    for token in tokens:
        total += len(token.bytes)
        ends.append(total)
    words = []
    for first, stop in word_ranges(text, language):
        confidence = None
        if shift >= 0:
            low = shift + len(text[:first].encode("utf-8"))
            high = shift + len(text[:stop].encode("utf-8"))
            chosen = [t.logprob for t, end in zip(tokens, ends, strict=True) if end > low and end - len(t.bytes) < high]
            confidence = math.exp(sum(chosen) / len(chosen)) if chosen else None
        chars = text[first:stop]
        unit = "char" if len(chars) == 1 and (is_cjk_char(chars) or is_spaceless(language)) else "word"
        words.append(Word(chars, None, confidence=confidence, unit=unit))
    return tuple(words)
