from __future__ import annotations

from pathlib import Path

import pytest

from qasr_plugins import registry
from qasr_plugins.qwen3.aligner import Qwen3AlignerConfig, Qwen3ForcedAligner
from qasr_plugins.stage import LANGUAGE, TEXT, AlignInput
from qasr_plugins.types import Span, Transcript, TranscriptSegment

pytest.importorskip("transformers.models.qwen3_asr")


def _assert_nested_and_monotone(transcript: Transcript) -> int:
    timed = 0
    for segment in transcript.segments:
        previous = segment.span.start - 0.01
        for word in segment.words:
            assert word.span is not None, word
            assert segment.span.start - 0.01 <= word.span.start <= word.span.end <= segment.span.end + 0.01
            assert word.span.start >= previous - 1e-6
            previous = word.span.end
            timed += 1
    return timed


def test_asr_then_aligner_on_sample_wav(sample_wav: Path, tiny_aligner_original: Path, tmp_path_factory):
    from qasr_plugins import Pipeline
    from qasr_plugins.qwen3.tiny import build_tiny

    asr = build_tiny(tmp_path_factory.mktemp("tiny_asr"), kind="asr", layout="native")
    pipeline = Pipeline.from_config("qwen3_asr_aligned", [
        f"stages.asr.model={asr}", f"stages.align.model={tiny_aligner_original}", "stages/vad=energy",
        "stages.asr.max_new_tokens=16"])
    document = pipeline(str(sample_wav))
    assert document.transcript is not None and document.transcript.segments
    assert _assert_nested_and_monotone(document.transcript) > 0


def test_words_keep_display_text_and_cjk_characters(tiny_aligner_stage, speechlike):
    audio = speechlike(12.0, [(0.5, 5.5), (6.5, 11.5)])
    transcript = Transcript("x", (
        TranscriptSegment(Span(0.4, 5.6), "Hello, world! It's 2025.", "en"),
        TranscriptSegment(Span(6.4, 11.6), "你好，我用iPhone。", "zh", "Chinese,English"),
    ))
    out = tiny_aligner_stage(AlignInput(audio, transcript))
    assert [w.text for w in out.segments[0].words] == ["Hello,", "world!", "It's", "2025."]
    assert [(w.text, w.unit) for w in out.segments[1].words] == [("你", "char"), ("好，", "char"), ("我", "char"),
                                                                 ("用", "char"), ("iPhone。", "word")]
    assert _assert_nested_and_monotone(out) == 9
    assert transcript.segments[0].words == ()  # nothing mutated in place


def test_japanese_words_through_the_stage(tiny_aligner_stage, speechlike):
    pytest.importorskip("nagisa")
    audio = speechlike(4.0, [(0.2, 3.8)])
    out = tiny_aligner_stage(AlignInput(audio, Transcript("x", (
        TranscriptSegment(Span(0.0, 4.0), "今日は良い天気ですね。", "ja"),))))
    assert [w.text for w in out.segments[0].words] == ["今日", "は", "良い", "天気", "です", "ね。"]
    _assert_nested_and_monotone(out)


def test_unsupported_language_without_fallback_keeps_segment_times(tiny_aligner_stage, speechlike):
    audio = speechlike(8.0, [(0.5, 7.5)])
    transcript = Transcript("x", (TranscriptSegment(Span(0.5, 3.5), "one two", "en"),
                                  TranscriptSegment(Span(4.0, 7.5), "مرحبا بالعالم", "ar")))
    out = tiny_aligner_stage(AlignInput(audio, transcript))
    arabic = out.segments[1]
    assert arabic.span == transcript.segments[1].span and "unaligned" in arabic.flags
    assert [(w.text, w.span, w.flags) for w in arabic.words] == [("مرحبا", None, ("untimed",)),
                                                               ("بالعالم", None, ("untimed",))]
    assert all(w.span is not None for w in out.segments[0].words)


def test_unsupported_language_goes_to_the_fallback_aligner(tiny_aligner, tiny_ctc_dir, speechlike):
    stage = Qwen3ForcedAligner(model=str(tiny_aligner), fallback="ctc.aligner",
                               fallback_settings={"model": str(tiny_ctc_dir)})
    stage.ensure_loaded()
    audio = speechlike(8.0, [(0.5, 7.5)])
    transcript = Transcript("x", (TranscriptSegment(Span(0.5, 3.5), "one two", "en"),
                                  TranscriptSegment(Span(4.0, 7.5), "merhaba dünya", "tr")))
    out = stage(AlignInput(audio, transcript))
    turkish = out.segments[1]
    assert [w.text for w in turkish.words] == ["merhaba", "dünya"] and "unaligned" not in turkish.flags
    assert _assert_nested_and_monotone(out) == 4


def test_a_failing_fallback_does_not_stop_the_batch(tiny_aligner, tmp_path, speechlike):
    stage = Qwen3ForcedAligner(model=str(tiny_aligner))
    stage.ensure_loaded()

    def broken(item):
        from qasr_plugins.errors import StageError

        raise StageError("model crashed", code="S411")

    stage.fallback = broken
    audio = speechlike(4.0, [(0.5, 3.5)])
    out = stage.process([AlignInput(audio, Transcript("x", (TranscriptSegment(Span(0.5, 3.5), "hola", "ar"),)))])
    assert out[0].segments[0].words[0].flags == ("untimed",)


def test_whole_file_and_chunks_give_identical_words(tiny_aligner_stage, speechlike):
    audio = speechlike(20.0, [(1, 4), (5, 9), (11, 14), (15, 19)])
    segments = (TranscriptSegment(Span(0.8, 4.2), "alpha beta gamma", "en"),
                TranscriptSegment(Span(4.8, 9.2), "delta epsilon zeta eta", "en"),
                TranscriptSegment(Span(10.8, 14.2), "theta iota", "en"),
                TranscriptSegment(Span(14.8, 19.2), "kappa lambda mu", "en"))
    whole = tiny_aligner_stage(AlignInput(audio, Transcript("x", segments)))
    parts = [tiny_aligner_stage(AlignInput(audio.crop(Span(0.0, 10.0)), Transcript("x", segments[:2]))),
             tiny_aligner_stage(AlignInput(audio.crop(Span(10.0, 20.0)), Transcript("x", segments[2:])))]
    assert [s.words for s in whole.segments] == [s.words for part in parts for s in part.segments]
    _assert_nested_and_monotone(whole)


def test_batched_windows_give_the_words_of_one_window_per_pass(tiny_aligner, tiny_aligner_stage, speechlike):
    """Padding windows into one pass changes no timestamp (position ids follow the mask)."""
    audio = speechlike(20.0, [(1, 4), (5, 9), (11, 14), (15, 19)])
    segments = (TranscriptSegment(Span(0.8, 4.2), "alpha beta gamma", "en"),
                TranscriptSegment(Span(4.8, 9.2), "delta epsilon zeta eta", "en"),
                TranscriptSegment(Span(10.8, 13.0), "theta", "en"),
                TranscriptSegment(Span(14.8, 19.2), "kappa lambda mu nu xi omicron", "en"))
    batched = Qwen3ForcedAligner(model=str(tiny_aligner), batch_size=4)
    one, four = (stage(AlignInput(audio, Transcript("x", segments))) for stage in (tiny_aligner_stage, batched))
    assert [s.words for s in four.segments] == [s.words for s in one.segments]
    assert _assert_nested_and_monotone(four) == 14


def test_long_windows_are_not_padded_into_one_pass(tiny_aligner_stage, speechlike):
    from qasr_plugins.alignment.engine import AlignRequest
    from qasr_plugins.alignment.text import split_units

    audio = speechlike(400.0, [(k + 0.1, k + 0.8) for k in range(400)])
    words = tuple(split_units(" ".join(["word"] * 30), "en"))

    def request(seconds: float) -> AlignRequest:
        return AlignRequest(audio.crop(Span(0.0, seconds)), words, "en")

    backend = tiny_aligner_stage.backend
    short = [request(8.0)] * 6
    assert [len(b) for b in backend.batches(short)] == [6]
    assert [len(b) for b in backend.batches([*short, request(150.0), request(150.0)])] == [6, 1, 1]


def test_long_segment_is_aligned_in_windows(tiny_aligner, speechlike):
    stage = Qwen3ForcedAligner(model=str(tiny_aligner), max_window=20.0)
    stage.ensure_loaded()
    audio = speechlike(50.0, [(k + 0.1, k + 0.8) for k in range(50)])
    text = " ".join(f"w{k}" for k in range(60))
    out = stage(AlignInput(audio, Transcript("x", (TranscriptSegment(Span(0.0, 50.0), text, "en"),))))
    assert _assert_nested_and_monotone(out) == 60
    assert out.segments[0].words[-1].span.end > 30.0  # later windows were offset once, not left at zero


def test_grouped_segments_share_windows(tiny_aligner, speechlike):
    stage = Qwen3ForcedAligner(model=str(tiny_aligner), group_segments=True, max_window=30.0)
    stage.ensure_loaded()
    audio = speechlike(20.0, [(1, 4), (5, 9)])
    out = stage(AlignInput(audio, Transcript("x", (TranscriptSegment(Span(0.8, 4.2), "alpha beta", "en"),
                                                   TranscriptSegment(Span(4.8, 9.2), "gamma delta", "en")))))
    assert _assert_nested_and_monotone(out) == 4


def test_contract_language_requirement_and_registration():
    assert registry.load("align", "qwen3.forced_aligner") is Qwen3ForcedAligner
    assert Qwen3ForcedAligner.requires(Qwen3AlignerConfig()) == {"transcript": frozenset({TEXT, LANGUAGE})}
    assert Qwen3ForcedAligner.requires(Qwen3AlignerConfig(language="ja")) == {"transcript": frozenset({TEXT})}
    with pytest.raises(ValueError, match="does not support"):
        Qwen3AlignerConfig(language="ar")


def test_config_language_overrides_segment_language(tiny_aligner_stage, tiny_aligner, speechlike):
    stage = Qwen3ForcedAligner(model=str(tiny_aligner), language="zh")
    stage.ensure_loaded()
    audio = speechlike(4.0, [(0.2, 3.8)])
    out = stage(AlignInput(audio, Transcript("x", (TranscriptSegment(Span(0.0, 4.0), "你好", None),))))
    assert [(w.text, w.unit) for w in out.segments[0].words] == [("你", "char"), ("好", "char")]


def test_code_switched_segment_uses_the_raw_language_when_no_tag_is_set(tiny_aligner_stage, speechlike):
    audio = speechlike(4.0, [(0.2, 3.8)])
    segment = TranscriptSegment(Span(0.0, 4.0), "我们用 Python 写代码", None, "Chinese,English")
    out = tiny_aligner_stage(AlignInput(audio, Transcript("x", (segment,))))
    assert [(w.text, w.unit) for w in out.segments[0].words] == [
        ("我", "char"), ("们", "char"), ("用", "char"), ("Python", "word"), ("写", "char"), ("代", "char"),
        ("码", "char")]
    assert "unaligned" not in out.segments[0].flags
