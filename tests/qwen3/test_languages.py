from __future__ import annotations

import pytest

from qasr_plugins.errors import ConfigError
from qasr_plugins.languages import LANGUAGES, language_name, primary_tag, split_names, to_bcp47
from qasr_plugins.qwen3.languages import ALIGNER_LANGUAGES


def test_thirty_languages_with_distinct_tags() -> None:
    assert len(LANGUAGES) == 30
    assert len(set(LANGUAGES.values())) == 30
    assert ALIGNER_LANGUAGES <= set(LANGUAGES)


@pytest.mark.parametrize(("name", "tag"), [("English", "en"), ("cantonese", "yue"), ("Filipino", "fil"),
                                           ("Wu", "wuu"), ("Min Nan", "nan"), ("Sichuanese", "zh-x-sichuan")])
def test_names_to_bcp47(name: str, tag: str) -> None:
    assert to_bcp47(name) == tag


def test_code_switching_and_no_speech() -> None:
    assert split_names("Chinese,English") == ("Chinese", "English")
    assert primary_tag("Chinese, English") == "zh"
    assert primary_tag("Klingon,English") == "en"
    assert split_names("None") == () and primary_tag("None") is None and split_names(None) == ()


@pytest.mark.parametrize(("given", "name"), [("en", "English"), ("en-US", "English"), ("ZH", "Chinese"),
                                             ("yue", "Cantonese"), ("japanese", "Japanese"), ("fil", "Filipino")])
def test_user_languages_language_names(given: str, name: str) -> None:
    assert language_name(given) == name


def test_unknown_or_unsupported_language_is_a_coded_error() -> None:
    with pytest.raises(ConfigError) as info:
        language_name("Englsh")
    assert info.value.code == "C140" and "English" in info.value.hint
    with pytest.raises(ConfigError):
        language_name("Thai", allowed=ALIGNER_LANGUAGES)
