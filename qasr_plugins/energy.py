"""Signal energy, the one home of model-free loudness measures: frame power, quiet points, energy speech detection.

Everything here works on a mono waveform and its sample rate (numpy only); times are seconds from the
waveform's first sample, so callers add their audio's offset once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Added to a power before taking its logarithm, so digital silence stays finite (-120 dB).
_EPSILON = 1e-12


def frame_power(waveform: np.ndarray, hop: int) -> np.ndarray:
    """The mean square of each whole frame of ``hop`` samples (float64); a trailing partial frame is dropped."""
    count = len(waveform) // hop
    frames = waveform[: count * hop].reshape(count, hop).astype(np.float64)
    return np.mean(frames**2, axis=1)


def frame_levels(waveform: np.ndarray, hop: int) -> np.ndarray:
    """Each frame's power in dB relative to full scale (see :func:`frame_power`)."""
    return 10 * np.log10(frame_power(waveform, hop) + _EPSILON)


def loud_frames(waveform: np.ndarray, hop: int, threshold_db: float, floor_db: float) -> np.ndarray:
    """Which frames are within ``threshold_db`` of the waveform's 99th-percentile frame and above ``floor_db``."""
    level = frame_levels(waveform, hop)
    if not len(level):
        return np.zeros(0, dtype=bool)
    return (level >= np.percentile(level, 99) + threshold_db) & (level >= floor_db)


def speech_spans(waveform: np.ndarray, sample_rate: int, *, threshold_db: float = -35.0, floor_db: float = -60.0,
                 frame: float = 0.03, min_speech: float = 0.25, min_silence: float = 0.3,
                 pad: float = 0.05) -> list[tuple[float, float]]:
    """Where the waveform is loud enough to be speech: ``(start, end)`` seconds, sorted and disjoint.

    Loud frames (:func:`loud_frames`) are joined across silences shorter than ``min_silence``, stretches shorter than
    ``min_speech`` are dropped, and each is padded by ``pad`` on both sides within the waveform. The defaults are
    those of the ``energy.vad`` stage.
    """
    hop = max(1, round(frame * sample_rate))
    mask = loud_frames(waveform, hop, threshold_db, floor_db)
    edges = np.flatnonzero(np.diff(np.concatenate([[False], mask, [False]]).astype(np.int8)))
    joined: list[list[float]] = []
    for first, stop in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
        start, end = first * hop / sample_rate, stop * hop / sample_rate
        if joined and start - joined[-1][1] < min_silence:
            joined[-1][1] = end
        else:
            joined.append([start, end])
    total = len(waveform) / sample_rate
    spans: list[tuple[float, float]] = []
    for start, end in joined:
        if end - start < min_speech:
            continue
        start, end = max(0.0, start - pad), min(total, end + pad)
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        else:
            spans.append((start, end))
    return spans


@dataclass(frozen=True)
class QuietPoint:
    """How to find the quietest point of a stretch of audio.

    Attributes:
        window: Length of the stretches compared (s).
        sliding: Compare every window one sample apart; otherwise consecutive, non-overlapping windows.
        power: Energy of a window: the sum of ``|x| ** power`` over its samples (1: magnitude, 2: power).
        latest: Among equally quiet windows take the latest; otherwise the earliest.
        middle: Answer the middle of the quietest window; otherwise its start.
    """

    window: float = 0.1
    sliding: bool = True
    power: int = 1
    latest: bool = True
    middle: bool = True

    def find(self, waveform: np.ndarray, sample_rate: int) -> float | None:
        """The quietest point (s from the waveform's start); ``None`` when no whole window fits."""
        width = max(1, round(self.window * sample_rate))
        if len(waveform) < width or (self.sliding and len(waveform) == width):
            return None
        if self.sliding:
            energy = np.abs(waveform, dtype=np.float64) ** self.power
            total = np.concatenate(([0.0], np.cumsum(energy)))
            sums = total[width:] - total[:-width]
            starts = np.arange(len(sums))
        else:
            frames = waveform[: len(waveform) // width * width].reshape(-1, width)
            sums = np.mean(np.abs(frames, dtype=np.float64) ** self.power, axis=1)
            starts = np.arange(len(sums)) * width
        best = len(sums) - 1 - int(np.argmin(sums[::-1])) if self.latest else int(np.argmin(sums))
        return (starts[best] + (width // 2 if self.middle else 0)) / sample_rate
