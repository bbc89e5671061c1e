"""``known_speakers``: names diarized speakers after enrolled reference clips (an ``identification`` stage).

1. References: each name's clips (2-30 s each) are embedded with the speaker encoder bundled in ``resemblyzer``
   (the one the offline diarizer uses); several clips of one name are averaged.
2. Speakers: each diarized speaker's exclusive turns (longest first, up to ``max_speech`` seconds) are embedded the
   same way, so this works after any diarizer.
3. Matching: cosine similarity between speakers and names; one name per speaker and one speaker per name at most
   (optimal assignment, :func:`scipy.optimize.linear_sum_assignment`); a pair is kept only when its similarity
   reaches ``threshold``. Unmatched speakers keep their labels.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import Field, field_validator, model_validator

from qasr_plugins.errors import ConfigError
from qasr_plugins.libraries import Libraries
from qasr_plugins.stage import IdentificationInput, IdentificationStage, StageConfig
from qasr_plugins.types import SAMPLE_RATE, Diarization

MIN_CLIP = 2.0
MAX_CLIP = 30.0
#: Calibrated on synthetic dev voices (``scripts/calibrate_known_speakers.py``); see ``docs/speakers.md``.
THRESHOLD = 0.89
_MIN_PIECE = 0.5  # seconds of speech below which a turn is not embedded


class KnownSpeakersConfig(StageConfig):
    references: dict[str, list[str]] = Field(default_factory=dict,
                                             description="Name → reference clips of that speaker alone "
                                             "(2-30 s each; one path or a list).")
    threshold: float = Field(THRESHOLD, ge=-1, le=1,
                             description="Least cosine similarity for a speaker to take a name.")
    min_speech: float = Field(1.0, ge=0, le=600, description="Speakers with less speech than this (s) are never named.")
    max_speech: float = Field(120.0, gt=0, le=3600, description="Seconds of a speaker's longest turns that are embedded.")
    device: str = Field("cpu", description="torch device of the speaker encoder.")

    @field_validator("references", mode="before")
    @classmethod
    def _listed(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: [v] if isinstance(v, str) else v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _clips(self) -> KnownSpeakersConfig:
        check_references(self.references)
        return self


def check_references(references: dict[str, list[str]]) -> None:
    """Every name distinct and non-empty, every clip a readable audio file of 2-30 s.

    Raises:
        ConfigError: ``C160`` (missing or unreadable), ``C161`` (length), ``C162`` (names), ``where`` relative to
            the stage's settings (``references.<name>``).
    """
    import soundfile as sf

    seen: dict[str, str] = {}
    for name, clips in references.items():
        where = f"references.{name}"
        key = " ".join(str(name).split()).casefold()
        if not key:
            raise ConfigError("a known speaker's name is empty.", where=where, code="C162",
                              hint="Name every enrolled speaker.")
        if key in seen:
            raise ConfigError(f"names {seen[key]!r} and {name!r} are the same speaker name.", where=where,
                              code="C162", hint="Give each speaker one name and list all their clips under it.")
        seen[key] = str(name)
        if not clips:
            raise ConfigError("no reference clip given.", where=where, code="C160",
                              hint="Give one or more clips (2-30 s each) of this speaker alone.")
        for clip in clips:
            try:
                seconds = sf.info(clip).duration
            except (OSError, RuntimeError, sf.LibsndfileError) as exc:
                raise ConfigError(f"reference clip {clip!r} is missing or not readable audio ({exc}).",
                                  where=where, code="C160", hint="Fix the path (WAV, FLAC or OGG).") from None
            if not MIN_CLIP <= seconds <= MAX_CLIP:
                raise ConfigError(f"reference clip {clip!r} is {seconds:.1f} s long; clips must be "
                                  f"{MIN_CLIP:g}-{MAX_CLIP:g} s.", where=where, code="C161",
                                  hint="Cut a 2-30 s clip of this speaker alone; give several for more material.")


class KnownSpeakers(IdentificationStage):
    """Renames diarized speakers to the enrolled names their voices match (resemblyzer embeddings)."""

    libraries = Libraries("offline", ("torch", "resemblyzer", "scipy"))
    cache_version = "1"

    config: KnownSpeakersConfig

    def model_id(self) -> str:
        from importlib.metadata import version

        return f"resemblyzer=={version('resemblyzer')}"

    def load(self) -> None:
        with warnings.catch_warnings():  # resemblyzer imports webrtcvad → pkg_resources, scipy.ndimage.morphology
            warnings.simplefilter("ignore")
            from resemblyzer import VoiceEncoder
            from resemblyzer.audio import normalize_volume, trim_long_silences

        self._encoder: Any = VoiceEncoder(device=self.config.device, verbose=False)
        self._prepare = lambda wav: trim_long_silences(normalize_volume(wav, -30, increase_only=True))
        self._enrolled: tuple[str, list[str], np.ndarray] | None = None

    def enrolled(self) -> tuple[list[str], np.ndarray]:
        """The enrolled names and their reference embeddings (unit length, one row per name), computed once per set
        of references: a copy of the loaded stage with other references (a server request's) embeds its own."""
        key = json.dumps(self.config.references, sort_keys=True)
        if self._enrolled is None or self._enrolled[0] != key:
            names = list(self.config.references)
            matrix = np.stack([self._mean([self._partials(_read(c)) for c in self.config.references[n]])
                               for n in names]) if names else np.zeros((0, 256), dtype=np.float32)
            self._enrolled = (key, names, matrix)
        return self._enrolled[1], self._enrolled[2]

    def process(self, batch: Sequence[IdentificationInput]) -> list[Diarization]:
        return [self._identify(item) for item in batch]

    def _partials(self, wav: np.ndarray) -> np.ndarray:
        """resemblyzer's partial-utterance embeddings of one piece of speech (none for silence or < 0.5 s)."""
        if len(wav) < _MIN_PIECE * SAMPLE_RATE or not np.any(wav):
            return np.zeros((0, 256), dtype=np.float32)
        wav = self._prepare(wav.astype(np.float32))
        if len(wav) < _MIN_PIECE * SAMPLE_RATE:
            return np.zeros((0, 256), dtype=np.float32)
        return self._encoder.embed_utterance(wav, return_partials=True)[1]

    @staticmethod
    def _mean(partials: Sequence[np.ndarray]) -> np.ndarray:
        stacked = np.concatenate(partials) if partials else np.zeros((0, 256), dtype=np.float32)
        mean = stacked.mean(axis=0) if len(stacked) else np.zeros(256, dtype=np.float32)
        norm = float(np.linalg.norm(mean))
        return mean / norm if norm > 0 else mean

    def speaker_embeddings(self, item: IdentificationInput) -> dict[str, np.ndarray]:
        """Each diarized speaker's embedding (unit length) from its longest exclusive turns; speakers with less
        than ``min_speech`` seconds are left out."""
        audio, cfg = item.audio, self.config
        turns = item.diarization.best
        found: dict[str, np.ndarray] = {}
        for speaker in turns.speakers:
            spans = sorted(turns.for_speaker(speaker), key=lambda s: (-s.duration, s.start))
            if sum(s.duration for s in spans) < cfg.min_speech:
                continue
            pieces, total = [], 0.0
            for span in spans:
                if total >= cfg.max_speech:
                    break
                pieces.append(self._partials(audio.crop(span).waveform))
                total += span.duration
            embedding = self._mean(pieces)
            if np.any(embedding):
                found[speaker] = embedding
        return found

    def match(self, embeddings: dict[str, np.ndarray]) -> dict[str, str]:
        """Speaker label → enrolled name, by optimal assignment of cosine similarities at least ``threshold``."""
        speakers = list(embeddings)
        names, references = self.enrolled()
        if not speakers or not names:
            return {}
        scores = np.stack([embeddings[s] for s in speakers]) @ references.T
        return {speakers[row]: names[column] for row, column in assign(scores, self.config.threshold).items()}

    def _identify(self, item: IdentificationInput) -> Diarization:
        diarization = item.diarization
        mapping = self.match(self.speaker_embeddings(item)) if self.config.references else {}
        taken = set(mapping.values())
        mapping |= {s: f"{s} (not enrolled)" for s in diarization.turns.speakers if s not in mapping and s in taken}
        return Diarization(diarization.turns.relabel(mapping),
                           None if diarization.exclusive is None else diarization.exclusive.relabel(mapping))


def assign(scores: np.ndarray, threshold: float) -> dict[int, int]:
    """Speaker row → reference column: the one-to-one assignment of greatest total similarity
    (:func:`scipy.optimize.linear_sum_assignment`), keeping the pairs whose similarity reaches ``threshold``."""
    from scipy.optimize import linear_sum_assignment

    rows, columns = linear_sum_assignment(scores, maximize=True)
    return {int(r): int(c) for r, c in zip(rows, columns, strict=True) if scores[r, c] >= threshold}


def _read(path: str) -> np.ndarray:
    """A clip as mono float32 at 16 kHz."""
    import soundfile as sf
    import soxr

    data, rate = sf.read(path, dtype="float32", always_2d=True)
    mono = data.mean(axis=1)
    return mono if rate == SAMPLE_RATE else soxr.resample(mono, rate, SAMPLE_RATE).astype(np.float32)


__all__ = ["MAX_CLIP", "MIN_CLIP", "THRESHOLD", "KnownSpeakers", "KnownSpeakersConfig", "assign", "check_references"]
