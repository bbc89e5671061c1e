"""``embedded.diarization``: offline diarization from the speaker encoder that ships inside ``resemblyzer``.

1. Speech: the wired VAD's regions, else an energy VAD over the whole file.
2. Embeddings: resemblyzer's encoder over sliding windows inside each region (no window crosses a pause).
3. Clustering: first, one speaker is told from several by how well connected the graph of window similarities
   is (the Fiedler value of its normalised Laplacian, similarities raised to the 8th power): one voice makes a
   graph with no weak cut. Otherwise the windows' embeddings are centred on the file's mean (which removes much
   of the channel) and clustered spectrally; the number of speakers is the eigengap of their affinity's
   normalised Laplacian, kept within ``min_speakers``/``max_speakers``, unless ``num_speakers`` fixes it.
   Clusters whose mean (uncentred) embeddings are ``merge_similarity`` alike are then joined.
4. Resegmentation: each 50 ms frame of speech takes the speaker whose centroid best matches the windows
   covering it; runs shorter than ``min_turn`` join their neighbour. A frame where a second speaker scores
   within ``overlap_margin`` of the first is marked as overlapped speech in the regular turns.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import Field, model_validator

from qasr_plugins.libraries import Libraries
from qasr_plugins.sequences import runs
from qasr_plugins.stage import DiarizationInput, DiarizationStage, StageConfig, VadInput
from qasr_plugins.tuning import uniform
from qasr_plugins.types import Audio, Diarization, Span, SpeakerTurns, SpeechRegions, Turn

FRAME = 0.05  # resolution of the resegmentation (s)
_MEL_HOP = 0.01  # resemblyzer's spectrogram hop (s)
_NORM_DBFS = -30  # resemblyzer's training loudness
_SHARPEN = 8  # power applied to cosine similarities before testing for a single speaker
MAX_AUTO_SPEAKERS = 10  # the most speakers the automatic count considers when max_speakers is not set
MAX_CLUSTERED = 2000  # windows clustered at most (about 8 minutes of speech at the default step)


class EmbeddedDiarizationConfig(StageConfig):
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
    min_turn: float = Field(0.5, ge=0, le=60, json_schema_extra=uniform(0.0, 1.5),
                            description="Turns shorter than this join a neighbouring speaker (s).")
    overlap_margin: float = Field(0.05, ge=0, lt=1, json_schema_extra=uniform(0.0, 0.2),
                                  description="A second speaker within this cosine similarity "
                                  "of the best is added as overlapped speech (0 disables).")
    device: str = Field("cpu", description="torch device of the speaker encoder.")

    @model_validator(mode="after")
    def _bounds(self) -> EmbeddedDiarizationConfig:
        if self.max_speakers is not None and self.max_speakers < self.min_speakers:
            raise ValueError(f"max_speakers ({self.max_speakers}) < min_speakers ({self.min_speakers})")
        return self


class EmbeddedDiarization(DiarizationStage):
    """Speaker diarization with resemblyzer embeddings and scikit-learn clustering; runs offline on CPU."""

    libraries = Libraries("offline", ("torch", "resemblyzer", "sklearn", "scipy"))

    config: EmbeddedDiarizationConfig

    def model_id(self) -> str:
        from importlib.metadata import version

        return f"resemblyzer=={version('resemblyzer')}"

    def load(self) -> None:
        with warnings.catch_warnings():  # resemblyzer imports webrtcvad → pkg_resources, scipy.ndimage.morphology
            warnings.simplefilter("ignore")
            from resemblyzer import VoiceEncoder
            from resemblyzer.audio import normalize_volume, wav_to_mel_spectrogram

        self._encoder: Any = VoiceEncoder(device=self.config.device, verbose=False)
        self._normalize = normalize_volume
        self._mel = wav_to_mel_spectrogram

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
        import torch

        wave = self._normalize(audio.waveform.astype(np.float32), _NORM_DBFS, increase_only=True)
        mel = self._mel(wave)
        spans = [(round((w.start - audio.offset) / _MEL_HOP), round((w.end - audio.offset) / _MEL_HOP)) for w in windows]
        spans = [(min(a, len(mel) - 1), min(max(b, a + 1), len(mel))) for a, b in spans]
        out = np.zeros((len(windows), 256), dtype=np.float32)
        by_length: dict[int, list[int]] = {}
        for index, (a, b) in enumerate(spans):
            by_length.setdefault(b - a, []).append(index)
        with torch.inference_mode():
            for indices in by_length.values():
                for first in range(0, len(indices), 256):
                    chunk = indices[first:first + 256]
                    mels = torch.from_numpy(np.stack([mel[spans[i][0]:spans[i][1]] for i in chunk]))
                    out[chunk] = self._encoder(mels.to(self._encoder.device)).cpu().numpy()
        return out

    def _cluster(self, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Speaker labels of the windows and the space they were clustered in (embeddings centred on the file).

        At most :data:`MAX_CLUSTERED` windows, spread evenly over the file, are clustered; the others take the
        speaker whose centroid they are closest to.
        """
        centred = embeddings - embeddings.mean(axis=0)
        centred /= np.maximum(np.linalg.norm(centred, axis=1, keepdims=True), 1e-8)
        chosen = np.unique(np.linspace(0, len(embeddings) - 1, min(len(embeddings), MAX_CLUSTERED)).round().astype(int))
        labels = self._cluster_subset(embeddings[chosen], centred[chosen])
        if len(chosen) < len(embeddings):
            nearest = (centred @ _centroids(centred[chosen], labels).T).argmax(axis=1)
            labels = np.unique(nearest, return_inverse=True)[1]
        return labels, centred

    def _cluster_subset(self, embeddings: np.ndarray, centred: np.ndarray) -> np.ndarray:
        from scipy.sparse.csgraph import laplacian
        from sklearn.cluster import SpectralClustering

        cfg = self.config
        count = len(embeddings)
        most = min(cfg.num_speakers or cfg.max_speakers or MAX_AUTO_SPEAKERS, count - 1)
        if most < 2:
            return np.zeros(count, dtype=int)
        if cfg.num_speakers is None and cfg.min_speakers == 1:
            sharpened = np.clip(embeddings @ embeddings.T, 0.0, None) ** _SHARPEN
            if np.linalg.eigvalsh(laplacian(sharpened, normed=True))[1] >= cfg.one_speaker_connectivity:
                return np.zeros(count, dtype=int)
        affinity = np.clip(centred @ centred.T, 0.0, None)
        if cfg.num_speakers is not None:
            k = most
        else:  # the eigengap of the normalised graph Laplacian
            eigen = np.linalg.eigvalsh(laplacian(affinity, normed=True))[:most + 1]
            k = int(np.argmax(np.diff(eigen)[1:most])) + 2
            k = min(max(k, cfg.min_speakers), most)
        with warnings.catch_warnings():  # well-separated speakers leave the clipped affinity graph disconnected
            warnings.filterwarnings("ignore", message="Graph is not fully connected")
            labels = SpectralClustering(n_clusters=k, affinity="precomputed", random_state=0).fit_predict(affinity)
        if cfg.num_speakers is None:
            labels = _merge_similar(embeddings, labels, cfg.merge_similarity, cfg.min_speakers)
        return labels

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
        embeddings = self._embed(audio, windows)
        labels, space = self._cluster(embeddings)
        scores = space @ _centroids(space, labels).T  # window × speaker cosine similarity
        names = _names_by_first_appearance(labels)
        exclusive: list[Turn] = []
        regular: list[Turn] = []
        starts = np.array([w.start for w in windows])
        ends = np.array([w.end for w in windows])
        middles = (starts + ends) / 2
        for region in regions:
            near = slice(np.searchsorted(starts, region.start - cfg.window), np.searchsorted(starts, region.end, "right"))
            if near.start == near.stop:  # a region without windows of its own borrows the nearest one's
                closest = int(np.abs(middles - region.middle).argmin())
                near = slice(closest, closest + 1)
            frames = _frame_scores(region, starts[near], ends[near], middles[near], scores[near])
            best = _smooth(frames.argmax(axis=1), round(cfg.min_turn / FRAME))
            for first, last, speaker in runs(best):
                span = Span(region.start + first * FRAME, min(region.end, region.start + last * FRAME))
                exclusive.append(Turn(span, names[speaker]))
                regular.append(Turn(span, names[speaker]))
            if cfg.overlap_margin > 0:
                regular.extend(_overlap_turns(region, frames, best, cfg.overlap_margin, names))
        # each speaker's touching or overlapping turns joined (1 µs for rounding)
        return Diarization(SpeakerTurns(audio.uri, tuple(regular)).support(collar=1e-6),
                           SpeakerTurns(audio.uri, tuple(exclusive), exclusive=True))


def _centroids(embeddings: np.ndarray, labels: np.ndarray) -> np.ndarray:
    centroids = np.stack([embeddings[labels == k].mean(axis=0) for k in range(labels.max() + 1)])
    return centroids / np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-8)


def _merge_similar(embeddings: np.ndarray, labels: np.ndarray, similarity: float, fewest: int) -> np.ndarray:
    """Join the two most similar clusters while their centroids are at least ``similarity`` alike; relabel 0…k-1."""
    labels = labels.copy()
    while labels.max() + 1 > fewest:
        centroids = _centroids(embeddings, labels)
        pairs = centroids @ centroids.T
        np.fill_diagonal(pairs, -np.inf)
        a, b = np.unravel_index(int(np.argmax(pairs)), pairs.shape)
        if pairs[a, b] < similarity:
            break
        labels[labels == max(a, b)] = min(a, b)
        labels = np.unique(labels, return_inverse=True)[1]
    return labels


def _names_by_first_appearance(labels: np.ndarray) -> dict[int, str]:
    order = list(dict.fromkeys(labels.tolist()))
    return {label: f"SPEAKER_{rank:02d}" for rank, label in enumerate(order)}


def _frame_scores(region: Span, starts: np.ndarray, ends: np.ndarray, middles: np.ndarray,
                  scores: np.ndarray) -> np.ndarray:
    """Frame × speaker scores in ``region``: the mean over the windows covering each frame (or the nearest)."""
    count = max(1, int(np.ceil(region.duration / FRAME - 1e-9)))
    times = region.start + (np.arange(count) + 0.5) * FRAME
    covering = (starts[None, :] <= times[:, None]) & (ends[None, :] >= times[:, None])
    nearest = np.abs(middles[None, :] - times[:, None]).argmin(axis=1)
    covering[np.arange(count), nearest] |= ~covering.any(axis=1)
    return (covering.astype(np.float32) @ scores) / covering.sum(axis=1, keepdims=True)


def _smooth(labels: np.ndarray, min_frames: int) -> np.ndarray:
    """Give every run shorter than ``min_frames`` to its longer neighbour, shortest runs first."""
    labels = labels.copy()
    while True:
        found = runs(labels)
        short = [r for r in found if r[1] - r[0] < min_frames]
        if len(found) < 2 or not short:
            return labels
        index = found.index(min(short, key=lambda r: r[1] - r[0]))
        neighbours = [found[i] for i in (index - 1, index + 1) if 0 <= i < len(found)]
        first, stop, _ = found[index]
        labels[first:stop] = max(neighbours, key=lambda r: r[1] - r[0])[2]


def _overlap_turns(region: Span, frames: np.ndarray, best: np.ndarray, margin: float,
                   names: dict[int, str]) -> list[Turn]:
    """Turns of a second speaker on frames where it scores within ``margin`` of the chosen one."""
    chosen = frames[np.arange(len(best)), best]
    rival = frames.copy()
    rival[np.arange(len(best)), best] = -np.inf
    second = rival.argmax(axis=1)
    close = chosen - rival.max(axis=1) <= margin
    labels = np.where(close, second, -1)
    return [Turn(Span(region.start + a * FRAME, min(region.end, region.start + b * FRAME)), names[k])
            for a, b, k in runs(labels) if k >= 0]


__all__ = ["EmbeddedDiarization", "EmbeddedDiarizationConfig"]
