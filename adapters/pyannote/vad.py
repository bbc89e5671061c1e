"""``pyannote.vad``: pyannote.audio's segmentation-based voice activity detection as a VAD stage.

The stage runs ``pyannote.audio.pipelines.VoiceActivityDetection`` on a segmentation model: a hub id (default
``pyannote/segmentation-3.0``, gated: accept its conditions and set ``HF_TOKEN``), a local checkpoint file, or a
directory holding ``pytorch_model.bin`` (``subfolder`` picks one inside, e.g. ``segmentation`` of a
community-1-style pipeline directory). Its four hyper-parameters are settings here, declared tunable:
``onset``/``offset`` (hysteresis thresholds on the speech probability), ``min_duration_on`` (drop shorter speech)
and ``min_duration_off`` (fill shorter gaps). pyannote fixes both thresholds at 0.5 for powerset models such as
segmentation-3.0; this stage applies the configured ones to every model, so the defaults give pyannote's result.
Telemetry: as ``pyannote.diarization``, loading sets ``PYANNOTE_METRICS_ENABLED`` off unless ``telemetry: true``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from pydantic import Field

from qasr_plugins.errors import StageError
from qasr_plugins.libraries import Libraries
from qasr_plugins.modelpaths import missing_local_path
from qasr_plugins.stage import StageConfig, VadInput, VadStage
from qasr_plugins.trust import is_refusal, refusal_reason, trust_field, untrusted
from qasr_plugins.tuning import uniform
from qasr_plugins.types import SpeechRegions

_CHECKPOINT_HINT = ("Point 'checkpoint' at a local checkpoint file or a directory holding pytorch_model.bin, or set "
                    "HF_TOKEN and allow hub access.")

#: Shorter audio holds no speech for this stage (pyannote's inference needs at least a few frames).
MIN_DURATION = 0.05


class PyannoteVadConfig(StageConfig):
    checkpoint: str = Field("pyannote/segmentation-3.0", description="Segmentation model: hub id, local "
                            "checkpoint file, or a directory holding pytorch_model.bin.")
    subfolder: str | None = Field(None, description="Folder inside 'checkpoint' that holds the model.")
    revision: str | None = None
    cache_dir: str | None = None
    token_env: str = Field("HF_TOKEN", description="Environment variable holding the hub token, if any.")
    onset: float = Field(0.5, gt=0, lt=1, json_schema_extra=uniform(0.1, 0.9),
                         description="Speech starts when the speech probability rises above this.")
    offset: float = Field(0.5, gt=0, lt=1, json_schema_extra=uniform(0.1, 0.9),
                          description="Speech ends when the speech probability falls below this.")
    min_duration_on: float = Field(0.0, ge=0, le=60, json_schema_extra=uniform(0.0, 1.0),
                                   description="Drop speech shorter than this (s).")
    min_duration_off: float = Field(0.0, ge=0, le=60, json_schema_extra=uniform(0.0, 1.0),
                                    description="Fill silences shorter than this (s).")
    batch_size: int = Field(32, ge=1, description="Chunks per segmentation forward pass.")
    device: str = "cpu"
    telemetry: bool = False
    trust_checkpoint: bool = trust_field()


class PyannoteVad(VadStage):
    """pyannote's ``VoiceActivityDetection`` on each file; regions absolute in the recording."""

    libraries = Libraries("pyannote", ("torch", "pyannote.audio"))

    config: PyannoteVadConfig

    def model_id(self) -> str:
        cfg = self.config
        return cfg.checkpoint if cfg.subfolder is None else f"{cfg.checkpoint.rstrip('/')}/{cfg.subfolder}"

    def load(self) -> None:
        cfg = self.config
        # pyannote.audio reads this at every call; importing it sets "true" when unset, so set it explicitly
        os.environ["PYANNOTE_METRICS_ENABLED"] = "true" if cfg.telemetry else "false"
        import torch
        from pyannote.audio.pipelines import VoiceActivityDetection

        from qasr_plugins.adapters.pyannote import trust

        if missing_local_path(cfg.checkpoint):
            raise StageError(f"cannot load pyannote segmentation model {self.model_id()!r}: no such file or "
                             "directory.", where="checkpoint", code="S404", hint=_CHECKPOINT_HINT)
        model: dict[str, Any] = {"checkpoint": cfg.checkpoint, "subfolder": cfg.subfolder}
        if cfg.revision is not None:
            model["revision"] = cfg.revision
        try:
            with trust.loading(trusted=cfg.trust_checkpoint):
                pipeline = VoiceActivityDetection(segmentation=model, token=os.environ.get(cfg.token_env) or None,
                                                  cache_dir=cfg.cache_dir, batch_size=cfg.batch_size)
        except Exception as exc:
            if is_refusal(exc):
                raise untrusted(f"the pyannote segmentation model {self.model_id()!r}", refusal_reason(exc),
                                where="checkpoint") from exc
            raise StageError(f"cannot load pyannote segmentation model {self.model_id()!r} "
                             f"({type(exc).__name__}: {exc}).", where="checkpoint", code="S404",
                             hint=_CHECKPOINT_HINT) from exc
        hyperparameters = pipeline.parameters()  # onset/offset are fixed attributes for powerset models
        values = {"onset": cfg.onset, "offset": cfg.offset, "min_duration_on": cfg.min_duration_on,
                  "min_duration_off": cfg.min_duration_off}
        for name, value in values.items():
            if name not in hyperparameters:
                setattr(pipeline, name, value)
        pipeline.instantiate({k: v for k, v in values.items() if k in hyperparameters})
        self._pipeline: Any = pipeline.to(torch.device(cfg.device))

    def process(self, batch: Sequence[VadInput]) -> list[SpeechRegions]:
        from qasr_plugins.adapters.pyannote.convert import from_timeline

        results = []
        for item in batch:
            audio = item.audio
            if audio.duration < MIN_DURATION:
                results.append(SpeechRegions(audio.uri, ()))
                continue
            speech = self._pipeline(audio.to_pyannote())
            # pyannote times are relative to the waveform it was given: shift by the audio's offset once.
            regions = from_timeline(speech.get_timeline(), audio.uri).crop(audio.span.shifted(-audio.offset))
            results.append(regions.shifted(audio.offset))
        return results


__all__ = ["PyannoteVad", "PyannoteVadConfig"]
