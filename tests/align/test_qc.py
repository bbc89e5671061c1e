"""Each known aligner failure mode is injected, detected and repaired."""

from __future__ import annotations

import numpy as np
import pytest

from qasr_plugins.alignment import qc
from qasr_plugins.alignment.qc import QcSettings, Voicing, detect, fix_monotonic, repair
from qasr_plugins.types import Span

WINDOW = Span(10.0, 20.0)
TEXTS = ["a", "bb", "ccc", "dddd", "ee", "fff"]
GOOD = [Span(10.5, 11.0), Span(11.1, 11.6), Span(12.0, 12.8), Span(13.0, 14.0), Span(14.2, 14.6), Span(15.0, 15.3)]


def _assert_sound(spans, window=WINDOW):
    previous = window.start
    for span in spans:
        assert window.start <= span.start <= span.end <= window.end
        assert span.start >= previous - 1e-9
        assert span.duration > 0
        previous = span.end


def test_good_timestamps_pass_untouched():
    assert detect(GOOD, WINDOW, TEXTS) == []
    result = repair(GOOD, WINDOW, TEXTS)
    assert list(result.spans) == GOOD and not any(result.repaired)


@pytest.mark.parametrize(("kind", "spans", "bad"), [
    ("all_zero", [Span(10, 10)] * 3 + GOOD[3:], range(3)),
    ("identical_starts", GOOD[:1] + [Span(11.1, 11.1), Span(11.1, 11.1), Span(11.1, 12.8)] + GOOD[4:], range(1, 4)),
    ("zero_length", GOOD[:2] + [Span(12.0, 12.0)] + GOOD[3:], range(2, 3)),
    ("trailing_pileup", GOOD[:3] + [Span(19.92, 19.92)] * 3, range(3, 6)),
    ("untimed", GOOD[:1] + [None, None] + GOOD[3:], range(1, 3)),
])
def test_failure_is_detected_and_repaired_by_interpolation(kind, spans, bad):
    issues = detect(spans, WINDOW, TEXTS)
    assert [(i.kind, i.first, i.stop) for i in issues] == [(kind, bad.start, bad.stop)]
    result = repair(spans, WINDOW, TEXTS)
    _assert_sound(result.spans)
    assert [i for i, r in enumerate(result.repaired) if r] == list(bad)
    for index in set(range(len(TEXTS))) - set(bad):
        assert result.spans[index] == GOOD[index]


def test_overlong_word_over_silence_is_trimmed_to_its_voiced_part(speechlike):
    audio = speechlike(20.0, [(s.start, s.end) for s in GOOD])
    spans = GOOD[:5] + [Span(15.0, 17.5)]
    voicing = Voicing(audio.waveform, audio.sample_rate, audio.offset)
    assert [i.kind for i in detect(spans, WINDOW, TEXTS, voicing)] == ["overlong"]
    result = repair(spans, WINDOW, TEXTS, voicing)
    assert result.repaired[5] and 15.0 <= result.spans[5].start and result.spans[5].end == pytest.approx(15.3, abs=0.02)


def test_overlong_word_is_found_by_duration_without_audio():
    spans = GOOD[:5] + [Span(15.0, 19.5)]
    result = repair(spans, WINDOW, TEXTS, settings=QcSettings(max_word_duration=2.0))
    assert result.repaired[5] and result.spans[5] == Span(15.0, 17.0)


def test_out_of_bounds_spans_are_clamped():
    spans = [Span(9.0, 10.4)] + GOOD[1:5] + [Span(19.0, 20.5)]
    result = repair(spans, WINDOW, TEXTS)
    assert result.spans[0] == Span(10.0, 10.4) and result.spans[5] == Span(19.0, 20.0)
    assert result.repaired[0] and result.repaired[5]


def test_a_suspect_run_is_realigned_in_a_smaller_window_first():
    spans = GOOD[:3] + [Span(19.92, 19.92)] * 3
    calls = []

    def realign(window: Span, first: int, stop: int):
        calls.append((window, first, stop))
        return [Span(13.1, 13.9), Span(14.3, 14.5), Span(15.1, 15.2)]

    result = repair(spans, WINDOW, TEXTS, realign=realign)
    assert calls == [(Span(12.8, 20.0), 3, 6)]
    assert result.spans[3:] == (Span(13.1, 13.9), Span(14.3, 14.5), Span(15.1, 15.2))


def test_a_realignment_that_fails_qc_falls_back_to_interpolation():
    spans = GOOD[:3] + [Span(19.92, 19.92)] * 3
    result = repair(spans, WINDOW, TEXTS, realign=lambda window, first, stop: [Span(19.0, 19.0)] * 3)
    _assert_sound(result.spans)
    assert result.spans[3].start == 12.8


def test_zero_length_without_room_borrows_time_from_neighbours():
    spans = [Span(10.5, 11.0), Span(11.0, 11.0), Span(11.0, 12.0)]
    result = repair(spans, WINDOW, ["a", "b", "c"])
    _assert_sound(result.spans)
    assert result.repaired[1]


def test_monotonic_fix_matches_the_official_rules():
    # short outlier runs snap to the nearer kept neighbour (left on ties); longer runs are interpolated
    assert fix_monotonic([0, 80, 800, 160, 240]) == [0, 80, 80, 160, 240]
    assert fix_monotonic([0, 80, 160, 80, 240, 320, 0, 0, 0, 480]) == [0, 80, 160, 160, 240, 320, 360, 400, 440, 480]
    assert fix_monotonic([400, 0, 80, 160]) == [0, 0, 80, 160]
    assert fix_monotonic([]) == []


def test_voicing_in_blocks_finds_the_frames_of_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    wave = (rng.standard_normal(16000 * 7) * np.repeat(rng.uniform(0, 1, 70), 1600)).astype(np.float32)
    frames = wave[: len(wave) // 160 * 160].astype(np.float64).reshape(-1, 160)
    level = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    expected = (level >= np.percentile(level, 99) - 35.0) & (level >= -60.0)
    monkeypatch.setattr(qc.Voicing, "frames_per_block", 37)
    assert np.array_equal(qc.Voicing(wave, 16000).voiced, expected)
    assert qc.Voicing(wave[:100], 16000).voiced.size == 0


def test_voicing_never_holds_the_recording_in_float64(monkeypatch: pytest.MonkeyPatch) -> None:
    import tracemalloc

    wave = np.random.default_rng(4).standard_normal(16000 * 60).astype(np.float32)
    monkeypatch.setattr(qc.Voicing, "frames_per_block", 500)
    tracemalloc.start()
    qc.Voicing(wave, 16000)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < wave.size * 8 / 4  # a float64 copy of the recording would be 7.7 MB
