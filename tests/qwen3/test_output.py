from __future__ import annotations

from qasr_plugins.qwen3.output import (
    CONTEXT_ECHO,
    NO_LANGUAGE_TAG,
    NO_SPEECH,
    REPETITION,
    collapse_repetitions,
    parse_output,
)


def test_identified_language() -> None:
    parsed = parse_output("language English<asr_text> Hello world.")
    assert (parsed.text, parsed.language, parsed.language_raw, parsed.flags) == ("Hello world.", "en", "English", ())


def test_code_switching_keeps_raw_field() -> None:
    parsed = parse_output("language Chinese,English<asr_text>你好 hello")
    assert (parsed.language, parsed.language_raw) == ("zh", "Chinese,English")


def test_language_none_is_no_speech() -> None:
    parsed = parse_output("language None<asr_text>")
    assert (parsed.text, parsed.language, parsed.flags) == ("", None, (NO_SPEECH,))
    assert parse_output("").flags == (NO_SPEECH,)


def test_forced_language_output_is_text_only() -> None:
    parsed = parse_output("bonjour", forced_language="French")
    assert (parsed.text, parsed.language, parsed.language_raw) == ("bonjour", "fr", "French")


def test_untagged_output_is_flagged() -> None:
    assert parse_output("just text").flags == (NO_LANGUAGE_TAG,)


def test_repetition_guard() -> None:
    assert collapse_repetitions("a" * 30 + "b", 20) == "ab"
    assert collapse_repetitions("ha" * 21, 20) == "ha"
    assert collapse_repetitions("ha" * 20, 20) == "ha" * 20  # not more than the threshold
    assert collapse_repetitions("a" * 30, 0) == "a" * 30
    parsed = parse_output("language English<asr_text>" + "yes " * 40, repetition_threshold=20)
    assert parsed.text in ("yes", "yes yes") and REPETITION in parsed.flags


def test_context_echo_is_flagged() -> None:
    context = "Meeting about the qasr toolkit and Qwen3."
    assert CONTEXT_ECHO in parse_output("language English<asr_text>meeting about the qasr toolkit and qwen3",
                                        context=context).flags
    assert CONTEXT_ECHO not in parse_output("language English<asr_text>We ship the release on Monday.",
                                            context=context).flags
