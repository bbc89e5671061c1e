"""``nemo.vad``: NeMo's frame-level VAD models (MarbleNet, ``EncDecFrameClassificationModel``) as a VAD stage.

``model`` is a ``.nemo`` file or a pretrained name (default ``nvidia/frame_vad_multilingual_marblenet_v2.0`` on the
Hugging Face hub). The model gives a speech probability per frame (20 ms for MarbleNet: the preprocessor's hop
times the encoder's subsampling); recordings are run in batches of padded pieces of at most ``chunk`` seconds, each
trimmed to its valid frames, and the probabilities become regions with NeMo's post-processing rules (hysteresis
``onset``/``offset``, padding, minimum durations; see :mod:`qasr_plugins.adapters.nemo.frames`). Regions are absolute in
the recording.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import Field

from qasr_plugins.adapters.nemo.frames import FrameRulesConfig, frame_spans
from qasr_plugins.errors import InputError
from qasr_plugins.libraries import Libraries
from qasr_plugins.stage import VadInput, VadStage
from qasr_plugins.trust import trust_field
from qasr_plugins.types import SpeechRegions

DEFAULT_MODEL = "nvidia/frame_vad_multilingual_marblenet_v2.0"


class NemoVadConfig(FrameRulesConfig):
    model: str = Field(DEFAULT_MODEL, description="A .nemo file or a pretrained frame-VAD model name.")
    device: str = Field("cpu", description="torch device.")
    trust_checkpoint: bool = trust_field()
    batch_size: int = Field(8, ge=1, description="Pieces run together.")
    chunk: float = Field(600.0, ge=10, le=7200, description="Longest piece per forward pass (s); longer audio is cut.")


class NemoVad(VadStage):
    """Frame speech probabilities from a NeMo frame-VAD model, post-processed into speech regions."""

    libraries = Libraries("nemo", ("torch", "nemo"))

    config: NemoVadConfig

    def load(self) -> None:
        from nemo.collections.asr.models import EncDecFrameClassificationModel

        from qasr_plugins.adapters.nemo.loading import load_nemo_model

        cfg = self.config
        self._model: Any = load_nemo_model(cfg.model, device=cfg.device, stage="nemo.vad",
                                           expected=EncDecFrameClassificationModel, trust=cfg.trust_checkpoint)
        self._rate = int(self._model.preprocessor._sample_rate)
        self._frame_samples = (int(self._model.preprocessor.featurizer.hop_length)
                               * int(self._model.encoder.subsampling_factor))
        self._frame = self._frame_samples / self._rate

    @property
    def frame(self) -> float:
        """Seconds per output frame."""
        return self._frame

    def process(self, batch: Sequence[VadInput]) -> list[SpeechRegions]:
        cfg = self.config
        for item in batch:
            if item.audio.sample_rate != self._rate:
                raise InputError(f"the VAD model needs {self._rate} Hz audio, got {item.audio.sample_rate} Hz",
                                 where=item.audio.uri, code="I308",
                                 hint="Load it with qasr's audio loader, which resamples to 16 kHz.")
        step = int(cfg.chunk * self._rate) // self._frame_samples * self._frame_samples  # on frame boundaries
        pieces = [(index, item.audio.waveform[start:start + step]) for index, item in enumerate(batch)
                  for start in range(0, len(item.audio.waveform), step)]
        probabilities: list[list[np.ndarray]] = [[] for _ in batch]
        for first in range(0, len(pieces), cfg.batch_size):
            chosen = pieces[first:first + cfg.batch_size]
            for (index, _), values in zip(chosen, self.speech_probabilities([w for _, w in chosen]), strict=True):
                probabilities[index].append(values)
        return [SpeechRegions(item.audio.uri, tuple(frame_spans(
            np.concatenate(values) if values else np.zeros(0), self._frame, cfg, origin=item.audio.offset,
            duration=item.audio.duration))) for item, values in zip(batch, probabilities, strict=True)]

    def speech_probabilities(self, waveforms: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Per-frame speech probability of each waveform (one padded forward pass)."""
        import torch

        lengths = torch.tensor([len(w) for w in waveforms])
        signal = torch.zeros(len(waveforms), int(lengths.max()))
        for row, waveform in enumerate(waveforms):
            signal[row, :len(waveform)] = torch.from_numpy(np.asarray(waveform, dtype=np.float32))
        device = next(self._model.parameters()).device
        with torch.inference_mode():
            features, feature_lengths = self._model.preprocessor(input_signal=signal.to(device),
                                                                 length=lengths.to(device))
            encoded, encoded_lengths = self._model.encoder(audio_signal=features, length=feature_lengths)
            logits = self._model.decoder(encoded.transpose(1, 2))
            speech = torch.softmax(logits.float(), dim=-1)[..., 1].cpu().numpy()
        return [speech[row, :int(count)] for row, count in enumerate(encoded_lengths.cpu())]


__all__ = ["NemoVad", "NemoVadConfig"]
