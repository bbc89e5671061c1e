"""``known_speakers``: names diarized speakers after enrolled reference clips (an ``identification`` stage).

1. References: each name's clips (2-30 s each) are embedded with the speaker encoder bundled in ``resemblyzer``
   (the one the offline diarizer uses), or with ``encoder``: a diarization stage that embeds speech in the space of
   the speaker embeddings it returns (:class:`~qasr_plugins.stage.SpeakerEncoder`, e.g. ``pyannote.diarization``);
   several clips of one name are averaged.
2. Speakers: the diarizer's own embeddings when it returned them in the encoder's space (pyannote.audio 4's
   ``speaker_embeddings``); else each diarized speaker's exclusive turns (longest first, up to ``max_speech``
   seconds) are embedded with the encoder, so this works after any diarizer.
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

from qasr_plugins.errors import ConfigError, QasrError, StageError
from qasr_plugins.libraries import Libraries
from qasr_plugins.stage import (
    FindPeer,
    IdentificationInput,
    IdentificationStage,
    SpeakerEncoder,
    StageConfig,
    embeds_speech,
)
from qasr_plugins.stages.diarization.clustering import unit
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
    threshold: float | None = Field(None, ge=-1, le=1,
                                    description="Least cosine similarity for a speaker to take a name (null: "
                                    f"{THRESHOLD} with the bundled encoder, else the encoder's own).")
    encoder: dict[str, Any] | None = Field(None, description="A diarization stage, {name: …, its settings}, whose "
                                           "speaker embedding model embeds the clips (e.g. the pipeline's own "
                                           "pyannote.diarization); null: the encoder bundled in resemblyzer.")
    min_speech: float = Field(1.0, ge=0, le=600, description="Speakers with less speech than this (s) are never named.")
    max_speech: float = Field(120.0, gt=0, le=3600, description="Seconds of a speaker's longest turns that are embedded.")
    device: str = Field("cpu", description="torch device of the speaker encoder.")

    @field_validator("references", mode="before")
    @classmethod
    def _listed(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: [v] if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("encoder")
    @classmethod
    def _encoder(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            encoder_stage(value)
        return value

    @model_validator(mode="after")
    def _clips(self) -> KnownSpeakersConfig:
        check_references(self.references)
        return self


def encoder_stage(spec: dict[str, Any]) -> SpeakerEncoder:
    """The (unloaded) diarization stage that ``spec`` (``{name: …, settings…}``) names, checked to embed speech.

    Raises:
        ValueError: When ``spec`` names no registered diarization stage, the stage cannot embed speech, or its
            settings are invalid (a config error on ``encoder``).
    """
    from pydantic import ValidationError

    from qasr_plugins import registry
    from qasr_plugins.errors import QasrError

    settings = dict(spec)
    name = settings.pop("name", None)
    if not isinstance(name, str):  # pydantic reports ValueError, not TypeError, as a config error
        raise ValueError(  # noqa: TRY004
            "encoder needs 'name': a diarization stage, e.g. {name: pyannote.diarization, checkpoint: …}")
    try:
        cls = registry.load("diarization", name)
    except QasrError as exc:
        raise ValueError(f"encoder: {exc.message}") from None
    if not embeds_speech(cls):
        raise ValueError(f"encoder: the diarization stage {name!r} cannot embed speech (it is no SpeakerEncoder); "
                         "leave 'encoder' unset for the bundled encoder")
    try:
        return cls(**settings)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"encoder ({name}): {problems}") from None


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
    """Renames diarized speakers to the enrolled names their voices match (speaker embeddings)."""

    libraries = Libraries("offline", ("torch", "resemblyzer", "scipy"))
    cache_version = "2"

    config: KnownSpeakersConfig

    @classmethod
    def libraries_for(cls, config: KnownSpeakersConfig) -> Libraries | None:  # type: ignore[override]
        """With an ``encoder``, that stage's libraries (resemblyzer is then not needed); else the bundled ones."""
        if config.encoder is None:
            return cls.libraries
        stage = encoder_stage(config.encoder)
        return type(stage).libraries_for(stage.config)  # type: ignore[attr-defined]

    def model_id(self) -> str:
        from importlib.metadata import version

        if self.config.encoder is not None:
            settings = self.config.encoder
            return " ".join(str(settings[k]) for k in ("name", "checkpoint", "model") if k in settings)
        return f"resemblyzer=={version('resemblyzer')}"

    def meet_peers(self, find: FindPeer) -> None:
        """Keeps ``find``: the ``encoder`` is the diarization node's own stage when it has the same settings."""
        self._find_peer: FindPeer | None = find

    def load(self) -> None:
        """Loads the encoder and embeds the references.

        Raises:
            StageError: ``S418`` when a name's clips hold no speech the encoder can embed.
        """
        self._enrolled: tuple[str, list[str], np.ndarray] | None = None
        self._encoder: SpeakerEncoder | None = None
        self._space: str | None = None
        self._load_encoder()
        if self.config.references:
            try:
                self.enrolled()
            except StageError:
                self.close()
                raise

    def _load_encoder(self) -> None:
        if self.config.encoder is not None:
            encoder = self._encoder_stage(self.config.encoder)
            #: Whether this stage loaded the encoder (and releases it): a peer's loaded stage stays its owner's.
            self._owns_encoder = not encoder.loaded
            try:
                space = encoder.speaker_space()
            except QasrError as exc:  # the encoder's settings sit under 'encoder'
                raise exc.located("encoder") from exc
            if space is not None:  # else the bundled encoder
                self._encoder, self._space = encoder, space
                return
            if self._owns_encoder:
                encoder.release()
        with warnings.catch_warnings():  # resemblyzer imports webrtcvad → pkg_resources, scipy.ndimage.morphology
            warnings.simplefilter("ignore")
            from resemblyzer import VoiceEncoder
            from resemblyzer.audio import normalize_volume, trim_long_silences

        self._voice: Any = VoiceEncoder(device=self.config.device, verbose=False)
        self._prepare = lambda wav: trim_long_silences(normalize_volume(wav, -30, increase_only=True))

    def _encoder_stage(self, spec: dict[str, Any]) -> Any:
        """The stage ``spec`` names: the pipeline's node running it with the same settings, else a new one."""
        built = encoder_stage(spec)
        find = getattr(self, "_find_peer", None)
        peer = find(spec["name"], built.config) if find is not None else None  # type: ignore[attr-defined]
        return peer if peer is not None else built

    def close(self) -> None:
        if getattr(self, "_encoder", None) is not None and self._owns_encoder:
            self._encoder.release()  # type: ignore[union-attr]

    @property
    def threshold(self) -> float:
        """The least similarity for a name: the setting, else the encoder's own (:data:`THRESHOLD` when bundled)."""
        if self.config.threshold is not None:
            return self.config.threshold
        return THRESHOLD if self._encoder is None else float(self._encoder.same_speaker_similarity)

    def enrolled(self) -> tuple[list[str], np.ndarray]:
        """The enrolled names and their reference embeddings (unit length, one row per name), computed once per set
        of references: a copy of the loaded stage with other references (a server request's) embeds its own."""
        key = json.dumps(self.config.references, sort_keys=True)
        if self._enrolled is None or self._enrolled[0] != key:
            names = list(self.config.references)
            matrix = np.stack([self._embed([_read(c) for c in self.config.references[n]]) for n in names]) \
                if names else np.zeros((0, 0), dtype=np.float32)
            for name, row in zip(names, matrix, strict=True):
                if not np.any(row):
                    raise StageError(f"the reference clips of {name!r} hold no speech the speaker encoder can "
                                     "embed (silence, noise or under 0.5 s of speech).", where=f"references.{name}",
                                     code="S418", hint="Give a clip of this speaker talking (2-30 s, mostly speech).")
            self._enrolled = (key, names, matrix)
        return self._enrolled[1], self._enrolled[2]

    def process(self, batch: Sequence[IdentificationInput]) -> list[Diarization]:
        return [self._identify(item) for item in batch]

    def _embed(self, pieces: Sequence[np.ndarray]) -> np.ndarray:
        """One unit-length embedding of ``pieces`` of one speaker's speech (zeros when none can be embedded): the
        encoder's rows of the pieces averaged, or resemblyzer's partial embeddings of all of them."""
        if self._encoder is not None:
            rows = self._encoder.embed_speech(pieces) if pieces else np.zeros((0, 1))
            return _unit_mean(rows[np.all(np.isfinite(rows), axis=1)])
        return _unit_mean(np.concatenate([self._partials(p) for p in pieces]) if pieces
                          else np.zeros((0, 256), dtype=np.float32))

    def _partials(self, wav: np.ndarray) -> np.ndarray:
        """resemblyzer's partial-utterance embeddings of one piece of speech (none for silence or < 0.5 s)."""
        if len(wav) < _MIN_PIECE * SAMPLE_RATE or not np.any(wav):
            return np.zeros((0, 256), dtype=np.float32)
        wav = self._prepare(wav.astype(np.float32))
        if len(wav) < _MIN_PIECE * SAMPLE_RATE:
            return np.zeros((0, 256), dtype=np.float32)
        return self._voice.embed_utterance(wav, return_partials=True)[1]

    def speaker_embeddings(self, item: IdentificationInput) -> dict[str, np.ndarray]:
        """Each diarized speaker's embedding (unit length): the diarizer's own when it returned them in the
        encoder's space, else from the speaker's longest exclusive turns; speakers with less than ``min_speech``
        seconds are left out."""
        audio, cfg = item.audio, self.config
        turns = item.diarization.best
        own = item.diarization.embeddings
        vectors = own.as_dict() if own is not None and self._space is not None and own.space == self._space else {}
        found: dict[str, np.ndarray] = {}
        for speaker in turns.speakers:
            spans = sorted(turns.for_speaker(speaker), key=lambda s: (-s.duration, s.start))
            if sum(s.duration for s in spans) < cfg.min_speech:
                continue
            if speaker in vectors:
                embedding = _unit_mean(np.asarray([vectors[speaker]], dtype=np.float64))
            else:
                pieces, total = [], 0.0
                for span in spans:
                    if total >= cfg.max_speech:
                        break
                    if span.duration >= _MIN_PIECE:
                        pieces.append(audio.crop(span).waveform)
                        total += span.duration
                embedding = self._embed(pieces)
            if np.any(embedding):
                found[speaker] = embedding
        return found

    def match(self, embeddings: dict[str, np.ndarray]) -> dict[str, str]:
        """Speaker label → enrolled name, by optimal assignment of cosine similarities at least the threshold."""
        speakers = list(embeddings)
        names, references = self.enrolled()
        if not speakers or not names:
            return {}
        scores = np.stack([embeddings[s] for s in speakers]) @ references.T
        return {speakers[row]: names[column] for row, column in assign(scores, self.threshold).items()}

    def _identify(self, item: IdentificationInput) -> Diarization:
        diarization = item.diarization
        mapping = self.match(self.speaker_embeddings(item)) if self.config.references else {}
        taken = set(mapping.values())
        mapping |= {s: f"{s} (not enrolled)" for s in diarization.turns.speakers if s not in mapping and s in taken}
        return diarization.relabel(mapping)


def _unit_mean(rows: np.ndarray) -> np.ndarray:
    """The mean of ``rows`` scaled to unit length (zeros when there are none, or they cancel)."""
    if not len(rows):
        return np.zeros(rows.shape[1] if rows.ndim == 2 else 0)
    return unit(rows.mean(axis=0, keepdims=True))[0]


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
