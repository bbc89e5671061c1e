"""``energy.vad``: a model-free VAD on frame energy relative to the loudest part of the file."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from qasr_plugins.energy import speech_spans
from qasr_plugins.stage import VadInput, VadStage
from qasr_plugins.stages.durations import SpeechDurations
from qasr_plugins.tuning import uniform
from qasr_plugins.types import Span, SpeechRegions


class EnergyVadConfig(SpeechDurations):
    threshold_db: float = Field(-35.0, ge=-120, lt=0, json_schema_extra=uniform(-50.0, -10.0),
                                description="Frames within this many dB of the loudest are speech.")
    floor_db: float = Field(-60.0, ge=-120, lt=0, description="Absolute floor (dBFS) below which nothing is speech.")
    frame: float = Field(0.03, gt=0, le=0.5, description="Frame length (s).")


class EnergyVad(VadStage):
    """Marks frames whose RMS is within ``threshold_db`` of the file's 99th-percentile frame and above
    ``floor_db``; then merges short gaps, drops short blips and pads. No model, no torch."""

    config: EnergyVadConfig

    def model_id(self) -> None:
        return None

    def process(self, batch: Sequence[VadInput]) -> list[SpeechRegions]:
        return [self._detect(item) for item in batch]

    def _detect(self, item: VadInput) -> SpeechRegions:
        cfg, audio = self.config, item.audio
        spans = speech_spans(audio.waveform, audio.sample_rate, threshold_db=cfg.threshold_db, floor_db=cfg.floor_db,
                             frame=cfg.frame, min_speech=cfg.min_speech_duration,
                             min_silence=cfg.min_silence_duration, pad=cfg.speech_pad)
        return SpeechRegions(audio.uri, tuple(Span(audio.offset + a, audio.offset + b) for a, b in spans))
