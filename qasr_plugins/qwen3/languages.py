"""The languages the Qwen3 models know, as names of :mod:`qasr_plugins.languages`.

Qwen3-ASR names languages in English (``"English"``, ``"Cantonese"``) and may report code-switched speech as a
comma-separated list (``"Chinese,English"``); the general name/tag tables and parsing live in
:mod:`qasr_plugins.languages`.
"""

from __future__ import annotations

from qasr_plugins.languages import LANGUAGES, normalize_language

#: The 30 languages Qwen3-ASR names in its output (``support_languages`` of the released configs).
ASR_LANGUAGES: frozenset[str] = frozenset(LANGUAGES)

#: Languages the Qwen3-ForcedAligner-0.6B supports.
ALIGNER_LANGUAGES: frozenset[str] = frozenset(
    {"Chinese", "English", "Cantonese", "French", "German", "Italian", "Japanese", "Korean", "Portuguese",
     "Russian", "Spanish"})

#: Base BCP-47 tag → the name the forced aligner was trained with.
ALIGNER_TAGS: dict[str, str] = {LANGUAGES[name]: name for name in sorted(ALIGNER_LANGUAGES)}


def aligner_supports(language: str | None) -> bool:
    """Whether the forced aligner times ``language`` (a tag or name; ``None`` means unknown: tried)."""
    return language is None or normalize_language(language) in ALIGNER_TAGS
