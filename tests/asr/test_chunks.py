from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from qasr_plugins.asr.chunks import ChunkLimits, plan_chunks
from qasr_plugins.types import Audio, Span


def _noise(seconds: float, offset: float = 0.0, quiet: tuple[float, ...] = ()) -> Audio:
    wave = np.random.default_rng(0).normal(0, 0.3, int(seconds * 16000)).astype(np.float32)
    for at in quiet:  # 200 ms of silence at these recording times
        first = int((at - offset) * 16000)
        wave[first:first + 3200] = 0.0
    return Audio("noise", wave, offset=offset)


def test_short_region_is_one_piece() -> None:
    audio = _noise(10)
    assert plan_chunks(audio, Span(2.0, 2.2)) == [Span(2.0, 2.2)]


def test_long_region_cut_at_quiet_points_within_limit() -> None:
    audio = _noise(100, offset=50.0, quiet=(77.0, 104.0))
    pieces = plan_chunks(audio, Span(50.0, 150.0), ChunkLimits(max_seconds=30, search=5))
    assert pieces[0].start == 50.0 and pieces[-1].end == 150.0
    assert all(a.end == b.start for a, b in pairwise(pieces))  # contiguous, absolute
    assert all(p.duration <= 30 + 1e-9 for p in pieces)
    assert 77.0 <= pieces[0].end <= 77.2  # inside the silence, not at the hard limit (80 s)
    assert 104.0 <= pieces[1].end <= 104.2


def test_no_tail_shorter_than_minimum() -> None:
    audio = _noise(40)
    pieces = plan_chunks(audio, Span(0, 30.2), ChunkLimits(max_seconds=30, min_seconds=0.5, search=5))
    assert len(pieces) == 2 and pieces[-1].duration >= 0.5 - 1e-9


def test_region_is_clamped_to_audio() -> None:
    audio = _noise(10, offset=5.0)
    assert plan_chunks(audio, Span(0.0, 30.0)) == [Span(5.0, 15.0)]


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError):
        ChunkLimits(max_seconds=0.4, min_seconds=0.5)
