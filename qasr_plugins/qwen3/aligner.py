"""``qwen3.forced_aligner``: word and character timestamps from Qwen3-ForcedAligner.

The model (transformers' native ``Qwen3ASRForTokenClassification``) reads the audio and the transcript's units,
each followed by two ``<timestamp>`` slots, in one forward pass, and classifies every slot into 80 ms steps. The
prompt is written without a chat template, as the official aligner does (a chat template shifts timestamps
late). Checkpoints load from a hub id, a local directory or an original-layout (qwen-asr) checkpoint, converted
once and cached (:mod:`qasr_plugins.qwen3.loading`).

Segments in a language the aligner does not support (it knows 11) go to the ``fallback`` align stage, or keep
their segment times with words flagged ``untimed``. Timestamps pass QC and repair (:mod:`qasr_plugins.alignment.qc`)
and words keep their display text (:mod:`qasr_plugins.alignment.reproject`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from qasr_plugins.alignment.config import AlignerConfig
from qasr_plugins.alignment.engine import AlignRequest
from qasr_plugins.alignment.qc import fix_monotonic
from qasr_plugins.alignment.stage import BackendAligner
from qasr_plugins.alignment.text import Unit, split_units
from qasr_plugins.libraries import Libraries
from qasr_plugins.qwen3.languages import ALIGNER_TAGS, aligner_supports
from qasr_plugins.qwen3.quantize import QUANTIZE_DESCRIPTION, Quantize, check_quantize
from qasr_plugins.sequences import padded_groups
from qasr_plugins.stage import LANGUAGE
from qasr_plugins.trust import trust_field
from qasr_plugins.types import Span

DEFAULT_MODEL = "Qwen/Qwen3-ForcedAligner-0.6B-hf"
AUDIO_PROMPT = "<|audio_start|><|audio_pad|><|audio_end|>"
TIMESTAMP_PAIR = "<timestamp><timestamp>"
#: Shorter audio gives the encoder too few frames to place anything.
MIN_AUDIO = 0.1
#: Windows padded into one forward pass need an attention mask, and a masked pass costs rows × longest² in attention
#: memory and time on the CPU: there a batch stays within this many position pairs, so short windows (VAD segments)
#: share a pass and long ones (minutes of a whole-file transcript) run alone.
BATCH_POSITION_PAIRS = 2_000_000
#: Positions per second of audio in the aligner's prompt (the encoder's rate, rounded up) and per unit (its text, at
#: least one token, and two timestamp slots): an estimate of a window's prompt length.
POSITIONS_PER_SECOND = 13.0
POSITIONS_PER_UNIT = 3


class Qwen3AlignerConfig(AlignerConfig):
    LOCAL: ClassVar[frozenset[str]] = AlignerConfig.LOCAL | {"model", "revision", "cache_dir", "dtype",
                                                             "korean_dictionary", "trust_checkpoint",
                                                             "quantize"}

    model: str = Field(DEFAULT_MODEL, description="Hub id or local directory (native -hf or original layout).")
    revision: str | None = Field(None, description="Hub revision.")
    cache_dir: str | None = Field(None, description="Hugging Face cache directory.")
    trust_checkpoint: bool = trust_field()
    dtype: Literal["float32", "bfloat16"] = Field("float32", description="Weights and compute dtype.")
    korean_dictionary: str | None = Field(None, description="Word list splitting Korean words into stem and "
                                                            "ending, as the official aligner does.")
    quantize: Quantize | None = Field(None, description=QUANTIZE_DESCRIPTION)

    @field_validator("language")
    @classmethod
    def _aligner_language(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not aligner_supports(value):
            supported = ", ".join(sorted(ALIGNER_TAGS))
            raise ValueError(f"the Qwen3 aligner does not support {value!r} (it supports {supported}). Leave "
                             "'language' unset and set 'fallback' (e.g. ctc.aligner) to route other languages")
        return value

    @model_validator(mode="after")
    def _quantize_where_supported(self) -> Qwen3AlignerConfig:
        check_quantize(self.quantize, self.device)
        return self


class Qwen3ForcedAligner(BackendAligner):
    """Times the words (CJK: characters) of a transcript with Qwen3-ForcedAligner."""

    libraries = Libraries("qwen", ("torch", "transformers", "huggingface_hub"))

    config: Qwen3AlignerConfig
    needs_language = True

    @classmethod
    def unmet_hint(cls, port: str, capability: str) -> str:
        if capability == LANGUAGE:
            return ("The Qwen3 aligner needs each segment's language: use an ASR stage that detects it "
                    "(qwen3.asr) or set the aligner's 'language' (e.g. stages.align.language=en).")
        return super().unmet_hint(port, capability)

    def load_backend(self) -> Qwen3AlignerBackend:
        from qasr_plugins.qwen3.loading import load_model

        cfg = self.config
        loaded = load_model(cfg.model, kind="forced_aligner", revision=cfg.revision, cache_dir=cfg.cache_dir,
                            dtype=cfg.dtype, device=cfg.device, trust=cfg.trust_checkpoint)
        if cfg.quantize == "int8":
            from qasr_plugins.qwen3.quantize import quantize_int8

            quantize_int8(loaded.model)
        return Qwen3AlignerBackend(loaded.model, loaded.processor, cfg.korean_dictionary)

    def attach(self, model: Any, processor: Any) -> None:
        """Run an already loaded aligner model and processor (e.g. ones restored from a ``.nemo`` file) instead of
        loading ``model``; the stage counts as loaded (its fallback, if any, is loaded here)."""
        self.use(Qwen3AlignerBackend(model, processor, self.config.korean_dictionary))
        self._loaded = True


class Qwen3AlignerBackend:
    """One forward pass per batch of windows; timestamps made monotone as the official aligner does."""

    def __init__(self, model: Any, processor: Any, korean_dictionary: str | None = None) -> None:
        self.model = model
        self.processor = processor
        self.korean_dictionary = korean_dictionary
        self.timestamp_id = int(model.config.timestamp_token_id)
        self.step_ms = float(getattr(processor, "timestamp_segment_time", 80.0))

    def supports(self, language: str | None) -> bool:
        return aligner_supports(language)

    def split(self, text: str, language: str | None) -> list[Unit]:
        return split_units(text, language, self.korean_dictionary)

    @staticmethod
    def prompt(units: Sequence[Unit]) -> str:
        """The aligner's input text: the audio placeholder, then each unit followed by two timestamp slots."""
        return AUDIO_PROMPT + "".join(unit.text + TIMESTAMP_PAIR for unit in units)

    def align(self, requests: Sequence[AlignRequest]) -> list[list[Span | None]]:
        results: list[list[Span | None]] = [[None] * len(r.units) for r in requests]
        ready = [k for k, r in enumerate(requests) if r.units and r.audio.duration >= MIN_AUDIO]
        if not ready:
            return results
        milliseconds = [values for batch in self.batches([requests[k] for k in ready])
                        for values in self.raw_milliseconds(batch)]
        for k, values in zip(ready, milliseconds, strict=True):
            fixed = fix_monotonic(values)
            offset = requests[k].audio.offset
            results[k] = [Span(offset + round(fixed[2 * i] / 1000.0, 3), offset + round(fixed[2 * i + 1] / 1000.0, 3))
                          for i in range(len(requests[k].units))]
        return results

    def batches(self, requests: Sequence[AlignRequest]) -> list[list[AlignRequest]]:
        """``requests`` in order, cut into forward passes of at most :data:`BATCH_POSITION_PAIRS` padded pairs on
        the CPU; on an accelerator, all in one pass (``batch_size`` already bounds how many)."""
        if next(self.model.parameters()).device.type != "cpu":
            return [list(requests)]
        positions = [round(request.audio.duration * POSITIONS_PER_SECOND) + POSITIONS_PER_UNIT * len(request.units)
                     for request in requests]
        return padded_groups(requests, positions, lambda rows, longest: rows * longest ** 2 <= BATCH_POSITION_PAIRS)

    def raw_milliseconds(self, requests: Sequence[AlignRequest]) -> list[list[float]]:
        """The model's timestamp classes × step, two per unit, before any repair (window-relative)."""
        return [(logits.argmax(-1).float() * self.step_ms).tolist() for logits in self.slot_logits(requests)]

    def slot_logits(self, requests: Sequence[AlignRequest]) -> list[Any]:
        """Per request, the timestamp-class logits of its slots (a ``[2 × units, classes]`` tensor), in one pass."""
        import torch

        inputs = self.processor(text=[self.prompt(r.units) for r in requests],
                                audio=[r.audio.waveform for r in requests], return_tensors="pt", padding=True)
        inputs.pop("num_audio_tokens", None)
        device = next(self.model.parameters()).device
        inputs = {k: v.to(device) for k, v in inputs.items()}
        inputs["input_features"] = inputs["input_features"].to(self.model.dtype)
        mask = inputs["attention_mask"]
        inputs["position_ids"] = (mask.cumsum(-1) - 1).clamp(min=0)
        with torch.inference_mode():
            logits = self.model(**inputs).logits
        slots = inputs["input_ids"] == self.timestamp_id
        return [logits[row][slots[row]] for row in range(len(requests))]
