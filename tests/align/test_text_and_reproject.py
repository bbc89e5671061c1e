from __future__ import annotations

import pytest

from qasr_plugins.alignment.reproject import TimedUnit, reproject
from qasr_plugins.alignment.text import split_units
from qasr_plugins.languages import normalize_language
from qasr_plugins.types import Span


def _timed(text: str, language: str | None):
    units = split_units(text, language)
    return units, [TimedUnit(u, Span(i, i + 0.5)) for i, u in enumerate(units)]


def test_units_drop_punctuation_and_keep_numbers_and_apostrophes():
    units = split_units("Hello, world! It's 2025 — U.S.A.", "en")
    assert [u.text for u in units] == ["Hello", "world", "It's", "2025", "USA"]


def test_cjk_characters_are_single_units_also_inside_other_languages():
    assert [u.text for u in split_units("你好，世界！用iPhone拍照", "zh")] == ["你", "好", "世", "界", "用", "iPhone",
                                                                             "拍", "照"]
    assert [u.text for u in split_units("I like 中文 class", "en")] == ["I", "like", "中", "文", "class"]


def test_japanese_and_korean_use_their_word_splitters():
    pytest.importorskip("nagisa")
    pytest.importorskip("soynlp")
    assert [u.text for u in split_units("今日は良い天気ですね。", "ja")] == ["今日", "は", "良い", "天気", "です", "ね"]
    assert [u.text for u in split_units("오늘 날씨가 좋네요.", "ko")] == ["오늘", "날씨가", "좋네요"]


def test_missing_japanese_tokenizer_is_a_coded_error(monkeypatch):
    import builtins

    from qasr_plugins.alignment import text
    from qasr_plugins.errors import StageError

    real_import = builtins.__import__

    def no_nagisa(name, *args, **kwargs):
        if name == "nagisa":
            raise ImportError("No module named 'nagisa'")
        return real_import(name, *args, **kwargs)

    text._japanese_tokenizer.cache_clear()
    monkeypatch.setattr(builtins, "__import__", no_nagisa)
    with pytest.raises(StageError) as info:
        split_units("今日は", "ja")
    assert info.value.code == "S410" and "pip install" in info.value.hint
    text._japanese_tokenizer.cache_clear()


def test_language_names_and_tags_normalise():
    assert [normalize_language(x) for x in ("en-US", "English", "Cantonese", "wuu", "zh-x-sichuan", None)] == [
        "en", "en", "yue", "zh", "zh", None]


def test_reprojection_keeps_punctuation_casing_and_numbers():
    text = "« Hello, World! » It's 2025 — U.S. ..."
    _, timed = _timed(text, "en")
    words = reproject(text, timed, "en")
    assert [w.text for w in words] == ["« Hello,", "World! »", "It's", "2025 —", "U.S. ..."]
    assert words[3].span == Span(3, 3.5)  # the number has a time
    assert "".join(text.split()) == "".join(w.text.replace(" ", "") for w in words)  # no character lost


def test_reprojection_of_chinese_gives_characters_with_their_punctuation():
    text = "你好，世界！我在2025年用iPhone。"
    _, timed = _timed(text, "zh")
    words = reproject(text, timed, "zh")
    assert [(w.text, w.unit) for w in words] == [
        ("你", "char"), ("好，", "char"), ("世", "char"), ("界！", "char"), ("我", "char"), ("在", "char"),
        ("2025", "word"), ("年", "char"), ("用", "char"), ("iPhone。", "word")]


def test_reprojection_joins_units_of_one_korean_word(tmp_path):
    pytest.importorskip("soynlp")
    dictionary = tmp_path / "ko.dict"
    dictionary.write_text("날씨\n", encoding="utf-8")
    text = "오늘 날씨가 좋네요."
    units = split_units(text, "ko", str(dictionary))
    assert [u.text for u in units] == ["오늘", "날씨", "가", "좋네요"]
    words = reproject(text, [TimedUnit(u, Span(i, i + 0.5)) for i, u in enumerate(units)], "ko")
    assert [(w.text, w.span) for w in words] == [("오늘", Span(0, 0.5)), ("날씨가", Span(1, 2.5)),
                                                 ("좋네요.", Span(3, 3.5))]


def test_untimed_units_give_untimed_words_and_flags_carry_over():
    text = "one two"
    units = split_units(text, "en")
    words = reproject(text, [TimedUnit(units[0], None, ("untimed",)), TimedUnit(units[1], Span(1, 2), ("repaired",))],
                      "en")
    assert words[0].span is None and words[0].flags == ("untimed",)
    assert words[1].flags == ("repaired",)


def test_text_without_units_gives_no_words():
    assert reproject("... !", [], "en") == ()
