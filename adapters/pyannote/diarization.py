"""``pyannote.diarization``: any pyannote.audio pipeline as a diarization stage.

``checkpoint`` is what ``pyannote.audio.Pipeline.from_pretrained`` takes: a hub id (default
``pyannote/speaker-diarization-community-1``), a local directory holding ``config.yaml``, or a ``config.yaml`` path.
Audio is passed in memory (no second decode). With a VAD wired into ``speech``, turns are clipped to its regions
(``clip_to_speech``, default on). pyannote.audio 4 sends usage telemetry unless
``PYANNOTE_METRICS_ENABLED`` says otherwise: loading this stage sets it off, or on with ``telemetry: true``.
Its ``config.yaml`` may name only pyannote.audio's classes and its checkpoints must load weights-only, unless
``trust_checkpoint: true`` (:mod:`.trust`).

pyannote.audio 4 pipelines return their speakers' embeddings (centroids of the embedding model's vectors); the
stage keeps them (``Diarization.embeddings``) and, as a :class:`~qasr_plugins.stage.SpeakerEncoder`, embeds other
speech with the same model, so that ``known_speakers`` can compare enrolled clips with them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, model_validator

from qasr_plugins.errors import QasrError, StageError
from qasr_plugins.libraries import Libraries
from qasr_plugins.modelpaths import missing_local_path
from qasr_plugins.stage import DiarizationInput, DiarizationStage, StageConfig
from qasr_plugins.trust import is_refusal, refusal_reason, untrusted
from qasr_plugins.types import Diarization


class PyannoteDiarizationConfig(StageConfig):
    checkpoint: str = Field("pyannote/speaker-diarization-community-1",
                            description="Hub id, local directory with config.yaml, or a config.yaml path.")
    revision: str | None = None
    cache_dir: str | None = None
    token_env: str = Field("HF_TOKEN", description="Environment variable holding the hub token, if any.")
    num_speakers: int | None = Field(None, ge=1)
    min_speakers: int | None = Field(None, ge=1)
    max_speakers: int | None = Field(None, ge=1)
    device: str = "cpu"
    telemetry: bool = False
    clip_to_speech: bool = Field(True, description="Keep turns inside the wired speech regions.")
    trust_checkpoint: bool = Field(False, description="Let config.yaml name classes outside pyannote.audio and "
                                   "load checkpoints torch's weights-only loader refuses (they can run code).")

    @model_validator(mode="after")
    def _speaker_bounds(self) -> PyannoteDiarizationConfig:
        if self.min_speakers and self.max_speakers and self.min_speakers > self.max_speakers:
            raise ValueError("min_speakers must not exceed max_speakers")
        return self


class PyannoteDiarization(DiarizationStage):
    """Runs a pyannote pipeline on each file; keeps both its regular and exclusive speaker turns."""

    libraries = Libraries("pyannote", ("torch", "pyannote.audio"))
    cache_version = "2"  # outputs carry the speakers' embeddings
    #: pyannote/speaker-diarization-3.1 joins clusters of its embedding model's unit-length vectors (WeSpeaker
    #: ResNet34, the one community-1 uses too) up to a Euclidean distance of 0.7046 between centroids: a cosine
    #: similarity of 1 - 0.7046² / 2 ≈ 0.75 is where it takes two for one speaker.
    same_speaker_similarity: ClassVar[float] = 1 - 0.7045654963945799**2 / 2

    config: PyannoteDiarizationConfig

    def model_id(self) -> str:
        return self.config.checkpoint

    def load(self) -> None:
        cfg = self.config
        # pyannote.audio reads this at every call; importing it sets "true" when unset, so set it explicitly
        os.environ["PYANNOTE_METRICS_ENABLED"] = "true" if cfg.telemetry else "false"
        import torch
        from pyannote.audio import Pipeline

        from qasr_plugins.adapters.pyannote import trust

        token = os.environ.get(cfg.token_env) or None
        if missing_local_path(cfg.checkpoint):
            raise _not_found(cfg.checkpoint, "no such file or directory")
        try:
            if not cfg.trust_checkpoint:
                trust.checked_config(*trust.config_file(cfg.checkpoint, revision=cfg.revision,
                                                        cache_dir=cfg.cache_dir, token=token))
            with trust.loading(trusted=cfg.trust_checkpoint):
                pipeline = Pipeline.from_pretrained(cfg.checkpoint, revision=cfg.revision, cache_dir=cfg.cache_dir,
                                                    token=token)
        except QasrError:
            raise
        except Exception as exc:
            if is_refusal(exc):
                raise untrusted(f"a checkpoint of the pyannote pipeline {cfg.checkpoint!r}", refusal_reason(exc),
                                where="checkpoint") from exc
            raise _not_found(cfg.checkpoint, f"{type(exc).__name__}: {exc}") from exc
        if pipeline is None:
            raise _not_found(cfg.checkpoint, "pyannote returned no pipeline")
        self._pipeline: Any = pipeline.to(torch.device(cfg.device))

    def process(self, batch: Sequence[DiarizationInput]) -> list[Diarization]:
        from qasr_plugins.adapters.pyannote import from_diarize_output

        cfg = self.config
        bounds = {k: v for k, v in (("num_speakers", cfg.num_speakers), ("min_speakers", cfg.min_speakers),
                                    ("max_speakers", cfg.max_speakers)) if v is not None}
        results = []
        for item in batch:
            audio = item.audio
            output = self._pipeline(audio.to_pyannote(), **bounds)
            # pyannote times are relative to the waveform it was given: shift by the audio's offset once.
            diarization = from_diarize_output(output, audio.uri, self.speaker_space()).shifted(audio.offset)
            if item.speech is not None and cfg.clip_to_speech:
                diarization = diarization.crop(item.speech)
            results.append(diarization)
        return results

    def speaker_space(self) -> str | None:
        """``pyannote:`` and the pipeline's embedding model (hub id or path, subfolder, revision); ``None`` for a
        pipeline without one (it then returns no embeddings either)."""
        self.ensure_loaded()
        model = getattr(self._pipeline, "embedding", None)
        if getattr(self._pipeline, "_embedding", None) is None or model is None:
            return None
        if isinstance(model, dict):
            where = "/".join(str(model[k]) for k in ("checkpoint", "subfolder") if model.get(k))
            model = f"{where}@{model['revision']}" if model.get("revision") else where
        return f"pyannote:{model}"

    def embed_speech(self, clips: Sequence[np.ndarray]) -> np.ndarray:
        """The pipeline's embedding model on each clip (16 kHz mono); a row of NaN for a clip too short for it.

        Raises:
            StageError: ``S417`` when the pipeline has no embedding model.
        """
        import torch

        if self.speaker_space() is None:
            raise StageError("this pyannote pipeline has no speaker embedding model to embed clips with.",
                             where="checkpoint", code="S417",
                             hint="Use a speaker-diarization pipeline (e.g. community-1), or name speakers with "
                             "the bundled encoder (known_speakers without 'encoder').")
        model = self._pipeline._embedding
        shortest = int(getattr(model, "min_num_samples", 0))
        rows = []
        for clip in clips:
            if len(clip) < max(shortest, 1):
                rows.append(np.full(model.dimension, np.nan))
                continue
            waveform = torch.from_numpy(np.ascontiguousarray(clip, dtype=np.float32))[None, None]
            rows.append(np.asarray(model(waveform.to(model.device)), dtype=np.float64)[0])
        return np.stack(rows) if rows else np.zeros((0, model.dimension))


def _not_found(checkpoint: str, detail: str) -> StageError:
    return StageError(f"cannot load pyannote pipeline {checkpoint!r} ({detail}).", where="checkpoint",
                      code="S404", hint="Point 'checkpoint' at a local directory holding config.yaml (and the "
                      "models it names), or set HF_TOKEN and allow hub access.")
