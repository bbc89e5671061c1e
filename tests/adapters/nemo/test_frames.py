"""Frame probabilities → spans (NeMo's post-processing rules, with its end-of-audio and merge quirks fixed)."""

from __future__ import annotations

import numpy as np
import pytest

from qasr_plugins.adapters.nemo.frames import FrameRulesConfig, frame_spans

BARE = FrameRulesConfig(onset=0.5, offset=0.5, pad_onset=0.0, pad_offset=0.0, min_duration_on=0.0,
                        min_duration_off=0.0)


def _spans(values: list[float], rules: FrameRulesConfig = BARE, **kwargs) -> list[tuple[float, float]]:
    return [(round(s.start, 6), round(s.end, 6)) for s in frame_spans(np.array(values), 0.1, rules, **kwargs)]


def test_hysteresis_and_open_end() -> None:
    rules = BARE.model_copy(update={"onset": 0.6, "offset": 0.3})
    # rises above 0.6 at frame 1, stays on through 0.4 (above the offset), falls below 0.3 at frame 4
    assert _spans([0.1, 0.7, 0.4, 0.5, 0.2, 0.9, 0.9], rules) == [(0.1, 0.4), (0.5, 0.7)]  # open run: to the end
    assert _spans([0.9]) == [(0.0, 0.1)] and _spans([]) == [] and _spans([0.5, 0.5]) == []  # strict comparisons


def test_padding_is_clipped_and_overlaps_merge_to_the_latest_end() -> None:
    rules = BARE.model_copy(update={"pad_onset": 0.3, "pad_offset": 0.05})
    assert _spans([0.9, 0.0, 0.0, 0.9, 0.9, 0.9, 0.0], rules, duration=0.62) == [(0.0, 0.62)]
    assert _spans([0.9, 0.0, 0.0, 0.0, 0.0, 0.9], rules) == [(0.0, 0.15), (0.2, 0.6)]


def test_minimum_durations_in_either_order() -> None:
    values = [0.9, 0.0, 0.9, 0.9, 0.0, 0.0, 0.0, 0.9, 0.9, 0.9]
    speech_first = BARE.model_copy(update={"min_duration_on": 0.15, "min_duration_off": 0.15})
    assert _spans(values, speech_first) == [(0.2, 0.4), (0.7, 1.0)]  # the 0.1 s blip goes before gaps fill
    gaps_first = speech_first.model_copy(update={"filter_speech_first": False})
    assert _spans(values, gaps_first) == [(0.0, 0.4), (0.7, 1.0)]  # the blip joins its neighbour first


def test_origin_shifts_every_span() -> None:
    shifted = frame_spans(np.array([0.0, 0.9, 0.0]), 0.1, BARE, origin=100.0)
    assert [(s.start, s.end) for s in shifted] == [(pytest.approx(100.1), pytest.approx(100.2))]
