from __future__ import annotations

import itertools

from qasr_plugins.alignment.windows import plan_windows
from qasr_plugins.types import Span


def test_each_segment_is_its_own_window_unless_grouped(speechlike):
    audio = speechlike(400.0, [])
    spans = [Span(0, 100), Span(110, 170), Span(175, 300), Span(305, 320)]
    lengths = [[3, 4], [5], [], [2, 2, 2]]
    single = plan_windows(spans, lengths, audio, 180.0)
    assert [w.span for w in single] == [Span(0, 100), Span(110, 170), Span(305, 320)]  # no units, no window
    grouped = plan_windows(spans, lengths, audio, 180.0, group=True)
    assert [w.span for w in grouped] == [Span(0, 170), Span(305, 320)]
    assert [[p.segment for p in w.pieces] for w in grouped] == [[0, 1], [3]]
    assert all(w.span.duration <= 180.0 for w in grouped)


def test_a_long_segment_is_cut_at_quiet_points_and_its_units_shared(speechlike):
    bursts = [(k, k + 1.0) for k in range(400)]
    audio = speechlike(400.0, [b for b in bursts if not 150 <= b[0] <= 151])  # quiet only at 150-152
    windows = plan_windows([Span(0, 400)], [[4] * 1000], audio, 180.0)
    assert len(windows) == 3 and all(w.span.duration <= 180.0 for w in windows)
    assert 150.0 <= windows[0].span.end <= 152.0
    pieces = [p for w in windows for p in w.pieces]
    assert pieces[0].first == 0 and pieces[-1].stop == 1000
    assert all(a.stop == b.first for a, b in itertools.pairwise(pieces))
    assert all(a.span.end == b.span.start for a, b in itertools.pairwise(pieces))


def test_a_long_pause_takes_no_text(speechlike):
    """A third of the words are spoken in 0-20 s, the rest in 80-120 s: every piece gets the words of the speech it
    holds, whatever the silence (sharing by duration would hand the pause a third of the text)."""
    speech = [(0.0, 20.0), (80.0, 120.0)]
    audio = speechlike(120.0, [(k, k + 0.8) for start, end in speech for k in range(int(start), int(end))])
    windows = plan_windows([Span(0, 120)], [[4] * 120], audio, 60.0)
    pieces = [p for w in windows for p in w.pieces]
    assert len(pieces) >= 2 and all(w.span.duration <= 60.0 for w in windows)

    def spoken_before(time: float) -> float:
        return sum(max(0.0, min(time, end) - start) for start, end in speech)

    for piece in pieces[:-1]:
        assert abs(piece.stop - 120 * spoken_before(piece.span.end) / 60.0) <= 2, (piece, pieces)
    assert pieces[0].stop <= 42  # the first cut is past 48 s: by duration it would take at least 48 words
