"""``nemo.clustering``: NeMo speaker embeddings (TitaNet, ECAPA-TDNN: ``EncDecSpeakerLabelModel``) over sliding
windows, clustered into speaker turns.

Only the embeddings differ from ``embedded.diarization`` (this stage subclasses it): speech from the wired VAD (else
an energy VAD), windows that never cross a pause, the one-speaker test, spectral clustering with an eigengap speaker
count and resegmentation in 50 ms frames are its steps, with its settings (see
:mod:`qasr_plugins.stages.embedded_diarization`). Each window is embedded as NeMo's ``infer_segment`` does (its
samples through the model's ``forward``), windows of one length in batches of ``batch_size``, and scaled to unit
length (NeMo's own clustering normalises embeddings too). ``model`` is a ``.nemo`` file or a pretrained name
(default ``nvidia/speakerverification_en_titanet_large``; NGC names such as ``titanet_large`` or ``ecapa_tdnn`` work
too). The clustering thresholds (``one_speaker_connectivity``, ``merge_similarity``) were tuned on resemblyzer's
embeddings; another model may want them retuned. The stage is a :class:`~qasr_plugins.stage.SpeakerEncoder`: its
output carries each speaker's mean embedding, and it embeds other speech with the same model, so ``known_speakers``
names speakers with NeMo's embeddings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from qasr_plugins.errors import InputError
from qasr_plugins.libraries import Libraries
from qasr_plugins.stages.embedded_diarization import EmbeddedDiarization, WindowClusteringConfig
from qasr_plugins.trust import trust_field
from qasr_plugins.types import Audio, Span

DEFAULT_MODEL = "nvidia/speakerverification_en_titanet_large"


class NemoClusteringConfig(WindowClusteringConfig):
    model: str = Field(DEFAULT_MODEL, description="A .nemo file or a pretrained EncDecSpeakerLabelModel name.")
    batch_size: int = Field(64, ge=1, description="Windows embedded per forward pass.")
    trust_checkpoint: bool = trust_field()


class NemoClustering(EmbeddedDiarization):
    """Speaker diarization with a NeMo speaker embedding model and ``embedded.diarization``'s clustering."""

    libraries = Libraries("nemo", ("torch", "nemo", "sklearn", "scipy"))

    config: NemoClusteringConfig
    cache_version = "2"  # outputs carry the speakers' embeddings
    #: ``EncDecSpeakerLabelModel.verify_speakers`` takes two recordings for one speaker when (cosine + 1) / 2 reaches
    #: 0.7 (its default): a cosine similarity of 0.4.
    same_speaker_similarity: ClassVar[float] = 2 * 0.7 - 1

    @classmethod
    def libraries_for(cls, config: NemoClusteringConfig) -> Libraries | None:  # type: ignore[override]
        return cls.libraries

    def model_id(self) -> str:
        return self.config.model

    def speaker_space(self) -> str:
        """``nemo:`` and the model (a .nemo file or a pretrained name)."""
        return f"nemo:{self.config.model}"

    def embed_speech(self, clips: Sequence[np.ndarray]) -> np.ndarray:
        """Unit-length embeddings of whole clips (16 kHz), each as one window of :meth:`embed`; a row of NaN for a
        clip shorter than 0.1 s."""
        self.ensure_loaded()
        rows = [self.embed(Audio("clip", clip), [Span(0.0, len(clip) / self._rate)])[0]
                if len(clip) >= round(0.1 * self._rate) else None for clip in clips]
        width = next((len(r) for r in rows if r is not None), 1)
        return np.stack([np.full(width, np.nan) if r is None else r for r in rows]) if rows else np.zeros((0, width))

    def load(self) -> None:
        from nemo.collections.asr.models import EncDecSpeakerLabelModel

        from qasr_plugins.adapters.nemo.loading import load_nemo_model

        cfg = self.config
        self._model: Any = load_nemo_model(cfg.model, device=cfg.device, stage="nemo.clustering",
                                           expected=EncDecSpeakerLabelModel, trust=cfg.trust_checkpoint)
        self._rate = int(self._model.preprocessor._sample_rate)

    def embed(self, audio: Audio, windows: Sequence[Span]) -> np.ndarray:
        """Unit-length speaker embeddings of ``windows`` (absolute spans inside ``audio``), ``[windows, dim]``.

        Raises:
            InputError: ``I308`` when the audio's sample rate is not the model's.
        """
        import torch

        if audio.sample_rate != self._rate:
            raise InputError(f"the speaker model needs {self._rate} Hz audio, got {audio.sample_rate} Hz",
                             where=audio.uri, code="I308",
                             hint="Load it with qasr's audio loader, which resamples to 16 kHz.")
        pieces = [audio.crop(window).waveform for window in windows]
        by_length: dict[int, list[int]] = {}
        for index, piece in enumerate(pieces):
            by_length.setdefault(len(piece), []).append(index)
        rows: dict[int, np.ndarray] = {}
        device = self._model.device
        with torch.inference_mode():
            for length, indices in by_length.items():
                for first in range(0, len(indices), self.config.batch_size):
                    chunk = indices[first:first + self.config.batch_size]
                    signal = torch.from_numpy(np.stack([pieces[i] for i in chunk])).to(device)
                    lengths = torch.full((len(chunk),), length, dtype=torch.long, device=device)
                    _, embeddings = self._model.forward(input_signal=signal, input_signal_length=lengths)
                    rows.update(zip(chunk, embeddings.float().cpu().numpy(), strict=True))
        out = np.stack([rows[i] for i in range(len(pieces))]) if pieces else np.zeros((0, 1), dtype=np.float32)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-8)

    _embed = embed  # the embedding step of EmbeddedDiarization's pipeline


__all__ = ["DEFAULT_MODEL", "NemoClustering", "NemoClusteringConfig"]
