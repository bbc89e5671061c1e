"""``silero.vad``: Silero VAD, whose weights ship inside the ``silero-vad`` wheel (works offline)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from pydantic import Field

from qasr_plugins.libraries import Libraries
from qasr_plugins.settings import with_defaults
from qasr_plugins.stage import VadInput, VadStage
from qasr_plugins.stages.durations import SpeechDurations
from qasr_plugins.tuning import uniform
from qasr_plugins.types import Span, SpeechRegions


class SileroVadConfig(with_defaults(SpeechDurations, "SileroDurations", min_silence_duration=0.1,  # type: ignore[misc]
                                    speech_pad=0.03)):
    threshold: float = Field(0.5, gt=0, lt=1, json_schema_extra=uniform(0.2, 0.9),
                             description="Speech probability above which a frame is speech.")
    neg_threshold: float | None = Field(None, gt=0, lt=1, description="Hysteresis: leave speech below this.")
    max_speech_duration: float | None = Field(None, gt=0, le=3600, description="Split regions longer than this (s).")
    onnx: bool = Field(True, description="Run the bundled ONNX model with onnxruntime (1.8x faster on 2 CPU cores, "
                                         "the same regions); false runs the TorchScript model with torch.")
    threads: int | None = Field(None, ge=1, description="torch intra-op threads (default: torch's).")


class SileroVad(VadStage):
    """Silero VAD v5/v6 on 16 kHz audio, regions absolute in the recording."""

    libraries = Libraries("offline", ("torch", "silero_vad", "onnxruntime"))

    config: SileroVadConfig

    def model_id(self) -> str:
        from importlib.metadata import version

        return f"silero-vad=={version('silero-vad')}" + (" (onnx)" if self.config.onnx else "")

    def load(self) -> None:
        import torch

        threads = self.config.threads or torch.get_num_threads()
        from silero_vad import load_silero_vad  # its first import sets torch's threads to 1 for the whole process

        torch.set_num_threads(threads)  # so every later stage (ASR, aligner, encoder) keeps the cores
        self._model: Any = load_silero_vad(onnx=self.config.onnx)

    def process(self, batch: Sequence[VadInput]) -> list[SpeechRegions]:
        return [self._detect(item) for item in batch]

    def _detect(self, item: VadInput) -> SpeechRegions:
        import torch
        from silero_vad import get_speech_timestamps

        audio = item.audio
        cfg = self.config
        if audio.duration < 0.032:  # shorter than one 512-sample window
            return SpeechRegions(audio.uri, ())
        stamps = get_speech_timestamps(
            torch.from_numpy(audio.waveform), self._model, threshold=cfg.threshold, neg_threshold=cfg.neg_threshold,
            sampling_rate=audio.sample_rate, min_speech_duration_ms=int(cfg.min_speech_duration * 1000),
            max_speech_duration_s=cfg.max_speech_duration or math.inf,
            min_silence_duration_ms=int(cfg.min_silence_duration * 1000), speech_pad_ms=int(cfg.speech_pad * 1000),
            return_seconds=False)
        self._model.reset_states()
        rate = audio.sample_rate
        regions = tuple(Span(audio.offset + s["start"] / rate, audio.offset + s["end"] / rate) for s in stamps)
        return SpeechRegions(audio.uri, regions)
