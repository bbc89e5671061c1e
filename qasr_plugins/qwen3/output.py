"""Interpret what Qwen3-ASR generates: ``language <Name><asr_text><text>``.

``language None`` is the model's way of saying there is no speech. A forced language is part of the prompt, so
the output is then the text alone.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher

from qasr_plugins.languages import primary_tag, split_names

ASR_TEXT = "<asr_text>"
_LANGUAGE_PREFIX = "language "

NO_SPEECH = "no_speech"
CONTEXT_ECHO = "context_echo"
REPETITION = "repetition"
TRUNCATED = "truncated"
NO_LANGUAGE_TAG = "no_language_tag"


@dataclass(frozen=True)
class ParsedOutput:
    """One decoded answer.

    Attributes:
        text: The transcription (stripped).
        language: BCP-47 tag of the first known language, if any.
        language_raw: The model's language field (``"English"``, ``"Chinese,English"``, ``"None"``) or the forced
            language name.
        flags: What was noticed: ``no_speech``, ``no_language_tag``, ``repetition``, ``context_echo``.
    """

    text: str
    language: str | None
    language_raw: str | None
    flags: tuple[str, ...] = ()


def collapse_repetitions(text: str, threshold: int, max_pattern: int = 20) -> str:
    """Collapse any run of one character, or of one pattern of up to ``max_pattern`` characters, repeated more
    than ``threshold`` times in a row into a single occurrence (Qwen3-ASR's loop repair). ``threshold <= 0`` keeps
    the text."""
    if threshold <= 0:
        return text
    for size in range(1, max_pattern + 1):
        pattern = re.compile(rf"(.{{{size}}})\1{{{threshold},}}", re.DOTALL)
        text = pattern.sub(r"\1", text)
    return text


def trim_token_loop(ids: list[int], threshold: int, max_pattern: int = 8) -> tuple[list[int], bool]:
    """Cut a trailing loop of token ids (a pattern repeated more than ``threshold`` times) down to one pattern.

    Returns:
        The ids and whether a loop was cut.
    """
    if threshold <= 0:
        return ids, False
    for size in range(1, max_pattern + 1):
        span = size * (threshold + 1)
        if len(ids) < span:
            break
        pattern = ids[-size:]
        if all(ids[-span + i] == pattern[i % size] for i in range(span)):
            start = len(ids) - span
            while start >= size and ids[start - size:start] == pattern:
                start -= size
            return ids[:start + size], True
    return ids, False


def _normalized(text: str) -> str:
    kept = (ch for ch in unicodedata.normalize("NFKC", text).casefold() if ch.isalnum())
    return "".join(kept)


def echoes_context(text: str, context: str) -> bool:
    """Whether ``text`` repeats the context prompt instead of transcribing (a known prompt-leak failure)."""
    wanted, got = _normalized(context), _normalized(text)
    if len(wanted) < 4 or not got:
        return False
    if wanted in got and len(wanted) >= 0.5 * len(got):
        return True
    return SequenceMatcher(None, wanted, got, autojunk=False).ratio() >= 0.8


def parse_output(raw: str, *, forced_language: str | None = None, context: str = "",
                 repetition_threshold: int = 20) -> ParsedOutput:
    """Split a decoded answer (special tokens removed, ``<asr_text>`` kept) into language and text.

    Args:
        raw: The decoded generated tokens.
        forced_language: The Qwen language name put in the prompt, if any.
        context: The context prompt (to flag answers that echo it).
        repetition_threshold: Collapse repeats longer than this (0 disables).
    """
    flags: list[str] = []
    body = raw.strip()
    if forced_language is not None:
        language_raw: str | None = forced_language
        text = body.split(ASR_TEXT, 1)[-1]
    elif ASR_TEXT in body:
        head, text = body.split(ASR_TEXT, 1)
        head = head.strip()
        language_raw = head[len(_LANGUAGE_PREFIX):].strip() if head.lower().startswith(_LANGUAGE_PREFIX) else head
        if language_raw and not split_names(language_raw):
            flags.append(NO_SPEECH)
    else:
        language_raw, text = None, body
        if body:
            flags.append(NO_LANGUAGE_TAG)
    fixed = collapse_repetitions(text, repetition_threshold)
    if fixed != text:
        flags.append(REPETITION)
    text = fixed.strip()
    if NO_SPEECH in flags:
        text = ""
    elif not text and forced_language is None and language_raw is None:
        flags.append(NO_SPEECH)
    if context and text and echoes_context(text, context):
        flags.append(CONTEXT_ECHO)
    return ParsedOutput(text, primary_tag(language_raw), language_raw or None, tuple(flags))
