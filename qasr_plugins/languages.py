"""Language names ↔ BCP-47 tags, and how each language is written.

Models name languages differently: Qwen3-ASR in English (``"English"``, ``"Cantonese"``, or a comma-separated list
such as ``"Chinese,English"`` for code-switched speech), Whisper by ISO 639-1 code. Stages keep the model's raw
string and expose BCP-47 tags; everything that depends on a language (text joining, alignment units, writers)
reads the tag through this module.
"""

from __future__ import annotations

from qasr_plugins.errors import ConfigError, did_you_mean

#: Language names (English) and their BCP-47 tags: the 30 languages Qwen3-ASR names in its output.
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

#: Base tags of languages written without spaces between words (after :func:`normalize_language`).
SPACELESS = frozenset({"zh", "yue", "ja"})

_NAME_BY_KEY: dict[str, str] = {name.lower(): name for name in (*LANGUAGES, *DIALECTS)}
_TAG_BY_NAME: dict[str, str] = {**LANGUAGES, **DIALECTS}
_NAME_BY_TAG: dict[str, str] = {tag.lower(): name for name, tag in reversed(list(_TAG_BY_NAME.items()))}
#: Chinese varieties (written in Chinese characters) that normalise to ``zh``; Cantonese keeps its own tag.
_SINITIC = frozenset(tag.split("-")[0] for tag in DIALECTS.values()) - {"yue"}


def to_bcp47(name: str) -> str | None:
    """The BCP-47 tag of one language name (case-insensitive), or ``None`` when unknown."""
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


def normalize_language(language: str | None) -> str | None:
    """A BCP-47 tag (``"en-US"``, ``"EN"``) or a language name (``"English"``) → the base tag, or ``None``.

    Chinese varieties (``"cmn"``, ``"wuu"``, ``"zh-x-sichuan"`` …) give ``"zh"``: they are written in Chinese
    characters."""
    if not language:
        return None
    value = language.strip()
    canonical = _NAME_BY_KEY.get(value.lower())
    tag = (_TAG_BY_NAME[canonical] if canonical else value).replace("_", "-").split("-")[0].lower()
    return "zh" if tag in _SINITIC else tag


def is_spaceless(language: str | None) -> bool:
    """Whether ``language`` (a tag or name) is written without spaces between words (Chinese, Cantonese,
    Japanese)."""
    return normalize_language(language) in SPACELESS


def language_name(language: str, *, where: str = "language", allowed: frozenset[str] | None = None) -> str:
    """The language name for a BCP-47 tag or a name given by a user (``"en"``, ``"EN-us"``, ``"english"``).

    Args:
        language: A tag or name.
        where: The config path named in errors.
        allowed: Restrict to these names (e.g. the languages one model supports).

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
                          hint=did_you_mean(key, candidates) + " Use a BCP-47 tag or a language name, "
                          "or null for automatic language identification.")
    return name
