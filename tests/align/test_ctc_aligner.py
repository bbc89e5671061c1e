from __future__ import annotations

import itertools

import pytest

from qasr_plugins import registry
from qasr_plugins.stage import AlignInput
from qasr_plugins.stages.ctc_aligner import CtcAligner
from qasr_plugins.types import Span, Transcript, TranscriptSegment

pytest.importorskip("torchaudio")


def _transcript() -> Transcript:
    return Transcript("synthetic", (
        TranscriptSegment(Span(0.5, 3.0), "Hello, world! It's fine.", "en"),
        TranscriptSegment(Span(3.5, 6.0), "Γειά σου κόσμε — 2025 ok", "el"),
        TranscriptSegment(Span(6.5, 7.0), "  ", "en"),
    ))


def test_ctc_aligner_times_every_word_inside_its_segment(tiny_ctc_dir, speechlike):
    stage = CtcAligner(model=str(tiny_ctc_dir))
    stage.ensure_loaded()
    audio = speechlike(8.0, [(0.6, 2.8), (3.6, 5.8)])
    out = stage.process([AlignInput(audio, _transcript())])[0]
    first, second, empty = out.segments
    assert [w.text for w in first.words] == ["Hello,", "world!", "It's", "fine."]
    assert [w.text for w in second.words] == ["Γειά", "σου", "κόσμε —", "2025", "ok"]
    assert empty.words == ()
    for segment in (first, second):
        previous = segment.span.start
        for word in segment.words:
            assert word.span is not None
            assert segment.span.start - 0.01 <= word.span.start <= word.span.end <= segment.span.end + 0.01
            assert word.span.start >= previous - 1e-6
            previous = word.span.end
    # Greek letters and digits are not in the character vocabulary: timed by interpolation and flagged.
    assert all("repaired" in w.flags for w in second.words[:4])
    assert all("repaired" not in w.flags or w.span is not None for w in first.words)


def test_ctc_aligner_is_registered_and_offsets_apply_once(tiny_ctc_dir, speechlike):
    assert registry.load("align", "ctc.aligner") is CtcAligner
    stage = CtcAligner(model=str(tiny_ctc_dir), repair=False)
    stage.ensure_loaded()
    audio = speechlike(8.0, [(0.6, 2.8), (3.6, 5.8)])
    transcript = Transcript("synthetic", (TranscriptSegment(Span(3.5, 6.0), "one two three", "en"),))
    whole = stage.process([AlignInput(audio, transcript)])[0]
    chunk = stage.process([AlignInput(audio.crop(Span(3.0, 8.0)), transcript)])[0]
    assert [w.span for w in whole.segments[0].words] == [w.span for w in chunk.segments[0].words]
    assert all(w.span is not None and w.span.start >= 3.5 for w in whole.segments[0].words)


def test_ctc_aligner_reports_a_missing_model(tmp_path):
    from qasr_plugins.errors import StageError

    with pytest.raises(StageError) as info:
        CtcAligner(model=str(tmp_path / "nowhere")).ensure_loaded()
    assert info.value.code == "S404" and "no such file or directory" in info.value.message
    (tmp_path / "empty").mkdir()
    with pytest.raises(StageError) as info:
        CtcAligner(model=str(tmp_path / "empty")).ensure_loaded()  # there, but no model in it
    assert info.value.code == "S411" and "holds a CTC model" in info.value.hint


def test_ctc_aligner_on_a_nemo_ctc_model(tmp_path, speechlike):
    pytest.importorskip("nemo.collections.asr")
    from qasr_plugins.adapters.nemo.tiny import build_tiny_ctc_model

    model = build_tiny_ctc_model(tmp_path / "tiny_ctc.nemo")
    stage = CtcAligner(model=str(model))
    stage.ensure_loaded()
    assert stage.backend.delimiter == 0  # NeMo character models separate words with the space label
    audio = speechlike(6.0, [(0.5, 5.5)])
    out = stage(AlignInput(audio, Transcript("x", (TranscriptSegment(Span(0.5, 5.5), "good morning, all", "en"),))))
    words = out.segments[0].words
    assert [w.text for w in words] == ["good", "morning,", "all"]
    assert all(w.span is not None and 0.5 <= w.span.start <= w.span.end <= 5.5 for w in words)
    assert all(a.span.end <= b.span.start + 1e-6 for a, b in itertools.pairwise(words))
