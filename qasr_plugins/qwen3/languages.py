"""Qwen3 language names ↔ BCP-47 tags.

Qwen3-ASR names languages in English (``"English"``, ``"Cantonese"``) and may report code-switched speech as a
comma-separated list (``"Chinese,English"``). Stages keep that raw string and expose BCP-47 tags.
"""

from __future__ import annotations

from qasr_plugins.errors import ConfigError, did_you_mean

#: The 30 languages Qwen3-ASR names in its output (``support_languages`` of the released configs).
LANGUAGES: dict[str, str] = {
    "Chinese": "zh", "English": "en", "Cantonese": "yue", "Arabic": "ar", "German": "de", "French": "fr",
    "Spanish": "es", "Portuguese": "pt", "Indonesian": "id", "Italian": "it", "Korean": "ko", "Russian": "ru",
    "Thai": "th", "Vietnamese": "vi", "Japanese": "ja", "Turkish": "tr", "Hindi": "hi", "Malay": "ms",
    "Dutch": "nl", "Swedish": "sv", "Danish": "da", "Finnish": "fi", "Polish": "pl", "Czech": "cs",
    "Filipino": "fil", "Persian": "fa", "Greek": "el", "Romanian": "ro", "Hungarian": "hu", "Macedonian": "mk",
}

#: Chinese varieties users name (recognised as input and in model output). Sinitic languages with an ISO 639-3
#: code get it; Mandarin dialects without one get a private-use subtag of ``zh``.
DIALECTS: dict[str, str] = {
    "Mandarin": "cmn", "Wu": "wuu", "Shanghainese": "wuu", "Min Nan": "nan", "Minnan": "nan", "Hokkien": "nan",
    "Hakka": "hak", "Gan": "gan", "Xiang": "hsn", "Min Dong": "cdo", "Jin": "cjy", "Hui": "czh",
    "Sichuanese": "zh-x-sichuan", "Dongbei": "zh-x-dongbei", "Tianjin": "zh-x-tianjin",
}

#: Languages the Qwen3-ForcedAligner-0.6B supports.
ALIGNER_LANGUAGES: frozenset[str] = frozenset(
    {"Chinese", "English", "Cantonese", "French", "German", "Italian", "Japanese", "Korean", "Portuguese",
     "Russian", "Spanish"})

_NAME_BY_KEY: dict[str, str] = {name.lower(): name for name in (*LANGUAGES, *DIALECTS)}
_TAG_BY_NAME: dict[str, str] = {**LANGUAGES, **DIALECTS}
_NAME_BY_TAG: dict[str, str] = {tag.lower(): name for name, tag in reversed(list(_TAG_BY_NAME.items()))}


def to_bcp47(name: str) -> str | None:
    """The BCP-47 tag of one Qwen language name (case-insensitive), or ``None`` when unknown."""
    canonical = _NAME_BY_KEY.get(name.strip().lower())
    return None if canonical is None else _TAG_BY_NAME[canonical]


def split_names(raw: str | None) -> tuple[str, ...]:
    """The language names in a model's language field: ``"Chinese,English"`` → ``("Chinese", "English")``.

    ``None``, an empty string and ``"None"`` (Qwen3-ASR's no-speech answer) give ``()``.
    """
    if raw is None:
        return ()
    names = tuple(part.strip() for part in raw.split(",") if part.strip())
    return () if [n.lower() for n in names] == ["none"] else names


def primary_tag(raw: str | None) -> str | None:
    """The BCP-47 tag of the first known language in a language field (``"Chinese,English"`` → ``"zh"``)."""
    for name in split_names(raw):
        tag = to_bcp47(name)
        if tag is not None:
            return tag
    return None


def to_qwen_name(language: str, *, where: str = "language", allowed: frozenset[str] | None = None) -> str:
    """The Qwen name for a BCP-47 tag or a Qwen name given by a user (``"en"``, ``"EN-us"``, ``"english"``).

    Args:
        language: A tag or name.
        where: The config path named in errors.
        allowed: Restrict to these Qwen names (e.g. :data:`ALIGNER_LANGUAGES`).

    Raises:
        ConfigError: ``C140`` when the language is unknown or not allowed.
    """
    key = language.strip()
    name = _NAME_BY_KEY.get(key.lower()) or _NAME_BY_TAG.get(key.lower()) or _NAME_BY_TAG.get(
        key.split("-")[0].lower())
    pool = sorted(allowed if allowed is not None else LANGUAGES)
    if name is None or (allowed is not None and name not in allowed):
        candidates = [*pool, *(_TAG_BY_NAME[n] for n in pool)]
        raise ConfigError(f"unsupported language {language!r}", where=where, code="C140",
                          hint=did_you_mean(key, candidates) + " Use a BCP-47 tag or a Qwen language name, "
                          "or null for automatic language identification.")
    return name
