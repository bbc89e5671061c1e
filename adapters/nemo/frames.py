"""Per-frame probabilities → time spans, with NeMo's VAD post-processing rules (hysteresis, padding, minimum
durations), shared by the NeMo VAD and diarization stages.

The semantics are those of NeMo's ``binarization`` and ``filtering`` (``vad_utils.py``) with three corrections: a
region still open at the end runs to the end of the last frame (NeMo stops one frame short), overlapping regions
merge to the latest end (NeMo keeps the last-sorted one's), and spans never reach past the audio.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from qasr_plugins.stage import StageConfig
from qasr_plugins.types import Span, SpeechRegions


class FrameRulesConfig(StageConfig):
    """Settings for turning frame probabilities into regions (NeMo's frame-VAD post-processing and its current
    defaults); stage configs that post-process frames extend it."""

    onset: float = Field(0.3, gt=0, lt=1, description="A region starts where the probability rises above this.")
    offset: float = Field(0.3, gt=0, lt=1, description="It ends where the probability falls below this.")
    pad_onset: float = Field(0.2, ge=0, le=10, description="Extend each region this much earlier (s).")
    pad_offset: float = Field(0.2, ge=0, le=10, description="Extend each region this much later (s).")
    min_duration_on: float = Field(0.2, ge=0, le=60, description="Drop regions shorter than this (s).")
    min_duration_off: float = Field(0.2, ge=0, le=60, description="Fill gaps shorter than this (s).")
    filter_speech_first: bool = Field(True, description="Drop short regions before filling short gaps.")


def frame_spans(probabilities: np.ndarray, frame: float, rules: FrameRulesConfig, *, origin: float = 0.0,
                duration: float | None = None) -> list[Span]:
    """Regions where ``probabilities`` (one per ``frame`` seconds) say yes, absolute from ``origin``.

    Args:
        probabilities: One value per frame; frame ``i`` covers ``[i·frame, (i+1)·frame)``.
        frame: Frame length (s).
        rules: Hysteresis thresholds, padding and minimum durations.
        origin: Absolute time of frame 0 (the audio's offset).
        duration: Length of the audio (s); spans are clipped to it (default: the frames' length). A region
            starting after it is dropped.
    """
    values = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    length = len(values) * frame if duration is None else duration
    raw: list[tuple[float, float]] = []
    start: int | None = None
    for index, value in enumerate(values):
        if start is None and value > rules.onset:
            start = index
        elif start is not None and value < rules.offset:
            raw.append((start * frame, index * frame))
            start = None
    if start is not None:
        raw.append((start * frame, len(values) * frame))
    padded = [(max(0.0, a - rules.pad_onset), min(length, b + rules.pad_offset)) for a, b in raw if b > a]
    regions = SpeechRegions("", tuple(Span(a, b) for a, b in padded if b >= a)).support()
    if rules.filter_speech_first:
        kept = regions.without_shorter(rules.min_duration_on).support(rules.min_duration_off)
    else:
        kept = regions.support(rules.min_duration_off).without_shorter(rules.min_duration_on)
    return list(kept.shifted(origin))


__all__ = ["FrameRulesConfig", "frame_spans"]
