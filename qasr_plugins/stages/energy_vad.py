"""``energy.vad``: a model-free VAD on frame energy relative to the loudest part of the file."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import Field

from qasr_plugins.energy import loud_frames
from qasr_plugins.stage import StageConfig, VadInput, VadStage
from qasr_plugins.types import Span, SpeechRegions


class EnergyVadConfig(StageConfig):
    threshold_db: float = Field(-35.0, lt=0, description="Frames within this many dB of the loudest are speech.")
    floor_db: float = Field(-60.0, lt=0, description="Absolute floor (dBFS) below which nothing is speech.")
    frame: float = Field(0.03, gt=0, le=0.5, description="Frame length (s).")
    min_speech_duration: float = Field(0.25, ge=0, description="Drop speech shorter than this (s).")
    min_silence_duration: float = Field(0.3, ge=0, description="Merge across silences shorter than this (s).")
    speech_pad: float = Field(0.05, ge=0, description="Pad each region by this much on both sides (s).")


class EnergyVad(VadStage):
    """Marks frames whose RMS is within ``threshold_db`` of the file's 99th-percentile frame and above
    ``floor_db``; then merges short gaps, drops short blips and pads. No model, no torch."""

    Config = EnergyVadConfig

    def model_id(self) -> None:
        return None

    def process(self, batch: Sequence[VadInput]) -> list[SpeechRegions]:
        return [self._detect(item) for item in batch]

    def _detect(self, item: VadInput) -> SpeechRegions:
        cfg: EnergyVadConfig = self.config  # type: ignore[assignment]
        audio = item.audio
        hop = max(1, round(cfg.frame * audio.sample_rate))
        count = len(audio.waveform) // hop
        if count == 0:
            return SpeechRegions(audio.uri, ())
        active = loud_frames(audio.waveform, hop, cfg.threshold_db, cfg.floor_db)
        runs = _runs(active)
        seconds = [(a * hop / audio.sample_rate, b * hop / audio.sample_rate) for a, b in runs]
        merged: list[list[float]] = []
        for start, end in seconds:
            if merged and start - merged[-1][1] < cfg.min_silence_duration:
                merged[-1][1] = end
            else:
                merged.append([start, end])
        total = audio.duration
        regions = tuple(
            Span(audio.offset + max(0.0, s - cfg.speech_pad), audio.offset + min(total, e + cfg.speech_pad))
            for s, e in merged if e - s >= cfg.min_speech_duration)
        return SpeechRegions(audio.uri, _merge_overlaps(regions))


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Start/stop indices of the True runs of a boolean array."""
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _merge_overlaps(regions: tuple[Span, ...]) -> tuple[Span, ...]:
    merged: list[Span] = []
    for region in sorted(regions):
        if merged and region.start <= merged[-1].end:
            merged[-1] = Span(merged[-1].start, max(merged[-1].end, region.end))
        else:
            merged.append(region)
    return tuple(merged)
