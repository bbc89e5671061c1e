"""``qwen3.asr``: Qwen3-ASR (0.6B / 1.7B) on transformers' native ``qwen3_asr`` model, with language identification.

What it transcribes, per input: the diarization turns when wired (each segment takes the turn's speaker; exclusive
turns are preferred so no audio is transcribed twice), else the speech regions, else the whole recording. Each
region is cut into pieces of at most ``max_chunk`` seconds at quiet points; pieces of every input are sorted by
length and decoded together in batches (greedy, KV cache, last-position logits only at prefill; a row that has
answered leaves the batch, :mod:`qasr_plugins.qwen3.decode`).

Each segment carries its text's tokens with their log-probabilities (recorded from the logits decoding computes
anyway) and untimed words whose ``confidence`` is the geometric mean of their tokens' probabilities
(:mod:`qasr_plugins.qwen3.confidence`); an aligner later times the words and keeps the confidences.

The prompt is the released models' prompt token for token: an always-present system turn holding the context (empty
without one), the user turn with the audio, the assistant turn — prefilled with ``language <Name><asr_text>`` when a
language is forced.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from qasr_plugins.asr.backend import AsrLimits, Heard, Language, Piece, PieceResult
from qasr_plugins.asr.chunks import ChunkLimits
from qasr_plugins.asr.flow import transcribe_inputs
from qasr_plugins.asr.pieces import plan_pieces
from qasr_plugins.energy import QuietPoint
from qasr_plugins.errors import InputError
from qasr_plugins.languages import language_name
from qasr_plugins.libraries import Libraries
from qasr_plugins.qwen3.languages import ASR_LANGUAGES
from qasr_plugins.qwen3.output import REPETITION, TRUNCATED, parse_output, trim_token_loop
from qasr_plugins.qwen3.quantize import QUANTIZE_DESCRIPTION, Quantize, check_quantize
from qasr_plugins.stage import LANGUAGE, TEXT, AsrInput, AsrStage, StageConfig
from qasr_plugins.trust import trust_field
from qasr_plugins.types import SAMPLE_RATE, Audio, Transcript

MAX_CALL_SECONDS = 1200.0
MIN_CALL_SECONDS = 0.5


class Qwen3AsrConfig(StageConfig):
    LOCAL: ClassVar[frozenset[str]] = frozenset({"model", "revision", "cache_dir", "dtype", "device", "threads",
                                                 "trust_checkpoint", "quantize"})

    model: str = Field("Qwen/Qwen3-ASR-0.6B-hf",
                       description="Hub id or local directory (native -hf or original qwen-asr layout).")
    revision: str | None = Field(None, description="Hub revision (branch, tag or commit).")
    cache_dir: str | None = Field(None, description="Hugging Face cache directory (default: HF_HOME's).")
    trust_checkpoint: bool = trust_field()
    language: str | None = Field(None, description="Force a language (BCP-47 tag or Qwen name); null identifies it.")
    context: str = Field("", description="Context text for the system prompt (names, terms, topic).")
    batch_size: int = Field(8, ge=1, description="Pieces decoded together in one batch.")
    batch_seconds: float = Field(600.0, gt=0, le=7200, description="Most audio (s) in one batch.")
    dtype: Literal["float32", "bfloat16"] = Field("float32", description="Weights and compute dtype.")
    device: str = Field("cpu", description="torch device, e.g. cpu or cuda:0.")
    max_new_tokens: int = Field(512, ge=1, description="Longest answer per piece (tokens).")
    repetition_threshold: int = Field(20, ge=0, description="Stop and collapse loops repeated more than this "
                                                            "(tokens while decoding, characters in the text); "
                                                            "0 disables.")
    max_chunk: float = Field(MAX_CALL_SECONDS, gt=MIN_CALL_SECONDS, le=MAX_CALL_SECONDS,
                             description="Longest piece per model call (s).")
    min_chunk: float = Field(MIN_CALL_SECONDS, gt=0, le=MAX_CALL_SECONDS,
                             description="Shorter pieces are zero-padded to this (s).")
    chunk_search: float = Field(5.0, gt=0, le=60, description="Look this far back for a quiet cut point (s).")
    threads: int | None = Field(None, ge=1, description="torch intra-op threads (default: torch's).")
    quantize: Quantize | None = Field(None, description=QUANTIZE_DESCRIPTION)

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            language_name(value, allowed=ASR_LANGUAGES)
        except Exception as exc:  # noqa: BLE001 - surfaced by pydantic as a config error on this key
            raise ValueError(getattr(exc, "message", str(exc)) + ". " + getattr(exc, "hint", "")) from None
        return value

    @model_validator(mode="after")
    def _quantize_where_supported(self) -> Qwen3AsrConfig:
        check_quantize(self.quantize, self.device)
        return self


class Qwen3Asr(AsrStage):
    """Qwen3-ASR speech recognition with language identification."""

    libraries = Libraries("qwen", ("torch", "transformers", "huggingface_hub"))

    config: Qwen3AsrConfig
    offers = frozenset({TEXT, LANGUAGE})

    def load(self) -> None:
        from qasr_plugins.qwen3.loading import load_model

        cfg = self.config
        if cfg.threads:
            import torch

            torch.set_num_threads(cfg.threads)
        loaded = load_model(cfg.model, kind="asr", revision=cfg.revision, cache_dir=cfg.cache_dir, dtype=cfg.dtype,
                            device=cfg.device, trust=cfg.trust_checkpoint)
        if cfg.quantize == "int8":
            from qasr_plugins.qwen3.quantize import quantize_int8

            quantize_int8(loaded.model)
        self.attach(loaded.model, loaded.processor)

    def attach(self, model: Any, processor: Any) -> None:
        """Run an already loaded model and processor (e.g. ones restored from a ``.nemo`` file) instead of loading
        ``model``; the stage counts as loaded. Its device and dtype are the model's."""
        cfg = self.config
        self._model, self._processor = model, processor
        self._language = None if cfg.language is None else language_name(cfg.language, where="language")
        self._loaded = True

    @property
    def model(self) -> Any:
        """The loaded ``Qwen3ASRForConditionalGeneration``."""
        return self._model

    @property
    def processor(self) -> Any:
        """The loaded ``Qwen3ASRProcessor``."""
        return self._processor

    def process(self, batch: Sequence[AsrInput]) -> list[Transcript]:
        for item in batch:
            _check_rate(item.audio)
        return transcribe_inputs(self, batch)

    @property
    def limits(self) -> AsrLimits:
        """Pieces of at most ``max_chunk`` s cut at quiet points, shorter ones padded to ``min_chunk``; batches of
        ``batch_size`` pieces and ``batch_seconds`` of audio (about 13 encoder tokens a second)."""
        cfg = self.config
        chunks = ChunkLimits(max_seconds=cfg.max_chunk, min_seconds=min(cfg.min_chunk, cfg.max_chunk / 2),
                             search=min(cfg.chunk_search, cfg.max_chunk / 2),
                             quiet=QuietPoint(window=min(0.1, cfg.chunk_search)))
        return AsrLimits(chunks=chunks, shortest=cfg.min_chunk, pad_short=True, batch_size=cfg.batch_size,
                         batch_seconds=cfg.batch_seconds)

    def plan(self, index: int, item: AsrInput) -> list[Piece]:
        """The pieces of one input: its turns, regions or whole audio, cut to the call limits."""
        _check_rate(item.audio)
        return plan_pieces(index, item, self.limits)

    def prompts(self, waveforms: Sequence[np.ndarray]) -> Any:
        """The processor outputs (token ids, masks, features) for a batch of waveforms."""
        cfg = self.config
        count = len(waveforms)
        return self.processor.apply_transcription_request(
            list(waveforms), language=[self._language] * count if self._language else None,
            prompt=[cfg.context] * count if cfg.context else None)

    def transcribe(self, pieces: Sequence[Piece]) -> list[PieceResult]:
        """Decode one batch of pieces greedily, one segment each."""
        import torch

        from qasr_plugins.qwen3 import decode
        from qasr_plugins.qwen3.confidence import LogprobRecorder, heard_words, text_tokens
        from qasr_plugins.qwen3.guards import RepetitionStop

        cfg = self.config
        inputs = self.prompts([piece.waveform for piece in pieces]).to(self.model.device)
        inputs["input_features"] = inputs["input_features"].to(self.model.dtype)
        stops = [RepetitionStop(inputs["input_ids"].shape[1], cfg.repetition_threshold)] \
            if cfg.repetition_threshold else []
        recorder = LogprobRecorder()
        eos_ids = _as_list(self.model.generation_config.eos_token_id)
        pad_id = self.model.generation_config.pad_token_id
        with torch.inference_mode():
            generated = decode.greedy_decode(self.model, inputs, max_new_tokens=cfg.max_new_tokens, eos_ids=eos_ids,
                                             pad_id=eos_ids[0] if pad_id is None else int(pad_id),
                                             processors=[recorder], stops=stops)
        eos = torch.tensor(eos_ids, device=generated.device)
        results = []
        for index, row in enumerate(generated):
            ended = torch.isin(row, eos)
            finished = bool(ended.any()) or len(row) < cfg.max_new_tokens
            ids = row[:int(ended.nonzero()[0, 0])] if ended.any() else row
            ids, looped = trim_token_loop(ids.tolist(), cfg.repetition_threshold)
            raw = self.processor.tokenizer.decode(ids, skip_special_tokens=True)
            parsed = parse_output(raw, forced_language=self._language, context=cfg.context,
                                  repetition_threshold=cfg.repetition_threshold)
            flags = parsed.flags
            if looped and REPETITION not in flags:
                flags += (REPETITION,)
            if not finished and not looped:
                flags += (TRUNCATED,)
            logprobs = recorder.row(index, ids)
            tokens = () if logprobs is None else text_tokens(self.processor.tokenizer, ids, logprobs)
            words = heard_words(parsed.text, parsed.language, tokens) if tokens else ()
            results.append(PieceResult((Heard(parsed.text, words=words, flags=flags, tokens=tokens),),
                                       Language(parsed.language, parsed.language_raw)))
        return results


def _as_list(ids: int | Sequence[int] | None) -> list[int]:
    return [] if ids is None else [int(ids)] if isinstance(ids, int) else [int(i) for i in ids]


def _check_rate(audio: Audio) -> None:
    if audio.sample_rate != SAMPLE_RATE:
        raise InputError(f"Qwen3-ASR needs {SAMPLE_RATE} Hz audio, got {audio.sample_rate} Hz", where=audio.uri,
                         code="I308", hint="Load it with qasr's audio loader, which resamples to 16 kHz.")
