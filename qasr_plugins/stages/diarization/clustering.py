"""Speaker clustering of window embeddings, with memory that grows linearly in the number of windows.

Up to ``chunk`` windows are clustered directly (:func:`cluster_direct`). Of more, ``chunk`` windows spread
evenly over the recording are clustered directly, and every window then takes the speaker whose centroid it is most
similar to. The largest matrix built is ``chunk`` × ``chunk``, and what the clustering sees does not depend on the
recording's length: the same conversation repeated to 10, 60 or 180 minutes gives the same speakers. A speaker
needs ``min_cluster`` of the evenly spread windows, i.e. about ``min_cluster / chunk`` of the speech (0.5 % with
the stage's defaults), to be found.

Direct clustering: one speaker is told from several by how well connected the graph of window similarities is
(the Fiedler value of its normalised Laplacian, similarities raised to the 8th power), on ``test_columns`` of the
embeddings when set (one encoder's part of joined embeddings, the one the threshold was set for). Otherwise the embeddings
are centred on their mean (which removes much of the channel) and clustered spectrally, the count being the
eigengap of the affinity's normalised Laplacian within the bounds. Voices that resemble one another form a group
that the first eigengap does not split (two groups of similar voices give the largest gap); so each cluster of
at least ``2 * min_cluster`` windows is clustered again on its own, centred on its own mean, up to
``split_depth`` times; a split stands when each part has ``min_cluster`` windows or more. Clusters whose mean (uncentred) embeddings are ``merge_similarity`` alike are then
joined, and clusters of fewer than ``min_cluster`` windows go to the nearest larger one.

Where a segmentation model has found chunk-local speakers (each the mean embedding of the windows one speaker
fills alone within a 10 s chunk), :func:`voices_alike` tells one speaker from several instead: one when even the
least similar of their pairs (the 5th percentile) are alike. Those means are steadier than single windows, so the
test holds across channels where the graph's connectivity does not (docs/quality.md). And two local speakers of one
chunk whose windows fell mostly into one cluster show that it holds two voices: :func:`split_shared` splits each
cluster where that happens in more than 5 % of the chunks it is heard in.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

_SHARPEN = 8  # power applied to cosine similarities before testing for a single speaker
_LEAST_ALIKE = 5  # the percentile of pairwise similarities that voices_alike compares
MAX_AUTO_SPEAKERS = 10  # the most speakers the automatic count considers when max_speakers is not set


@dataclass(frozen=True)
class ClusterSettings:
    """How windows are clustered; ``num_speakers`` fixes the count, else it is found within the bounds."""

    one_speaker_connectivity: float = 0.47
    merge_similarity: float = 0.9
    num_speakers: int | None = None
    min_speakers: int = 1
    max_speakers: int | None = None
    chunk: int = 1500
    split_depth: int = 1
    min_cluster: int = 8
    test_columns: tuple[int, int] | None = None  # columns [first, stop) the one-speaker test reads (None: all)

    @property
    def most(self) -> int:
        return self.num_speakers or self.max_speakers or MAX_AUTO_SPEAKERS


def unit(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length."""
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-8)


def centroids(embeddings: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Unit-length mean of each label's rows, labels ``0…k-1``."""
    sums = np.zeros((int(labels.max()) + 1, embeddings.shape[1]), dtype=np.float64)
    np.add.at(sums, labels, embeddings)
    return unit(sums)


def cluster(embeddings: np.ndarray, settings: ClusterSettings) -> np.ndarray:
    """Speaker labels ``0…k-1`` of the windows' ``embeddings`` (rows), in time order."""
    count = len(embeddings)
    if count <= settings.chunk:
        return cluster_direct(embeddings, settings)
    spread = _spread(count, settings.chunk)
    means = centroids(unit(embeddings[spread]), cluster_direct(embeddings[spread], settings))
    nearest = np.concatenate([np.argmax(unit(embeddings[start:start + settings.chunk]) @ means.T, axis=1)
                              for start in range(0, count, settings.chunk)])
    return np.unique(nearest, return_inverse=True)[1]


def _spread(count: int, chunk: int) -> np.ndarray:
    """``chunk`` indices spread evenly over ``count`` rows."""
    return np.linspace(0, count - 1, chunk).round().astype(int)


def cluster_direct(embeddings: np.ndarray, settings: ClusterSettings) -> np.ndarray:
    """Speaker labels ``0…k-1`` of ``embeddings``, from their full affinity matrix (see the module docstring)."""
    embeddings = unit(embeddings)
    labels = _spectral(embeddings, settings)
    if settings.num_speakers is not None:
        return labels
    labels = _split(embeddings, labels, settings, settings.split_depth)
    most = settings.max_speakers or len(embeddings)
    labels = merge_similar(embeddings, labels, settings.merge_similarity, settings.min_speakers)
    labels = merge_similar(embeddings, labels, -np.inf, most)  # the most similar joined down to max_speakers
    return _absorb_small(embeddings, labels, settings.min_cluster, settings.min_speakers)


def _split(embeddings: np.ndarray, labels: np.ndarray, settings: ClusterSettings, depth: int) -> np.ndarray:
    """Each cluster of at least ``2 * min_cluster`` rows clustered again on its own, ``depth`` levels deep."""
    if depth == 0 or labels.max() == 0:
        return labels
    inner = replace(settings, min_speakers=1)
    out = np.zeros(len(labels), dtype=int)
    found = 0
    for label in range(int(labels.max()) + 1):
        members = labels == label
        sub = np.zeros(int(members.sum()), dtype=int)
        if members.sum() >= 2 * settings.min_cluster:
            parts = _spectral(embeddings[members], inner)
            if np.bincount(parts).min() >= settings.min_cluster:  # a split into parts that are all large enough
                sub = _split(embeddings[members], parts, inner, depth - 1)
        out[members] = sub + found
        found += int(sub.max()) + 1
    return out


def _absorb_small(embeddings: np.ndarray, labels: np.ndarray, smallest: int, fewest: int) -> np.ndarray:
    """Clusters of fewer than ``smallest`` rows given to the nearest larger cluster, keeping ``fewest`` at least."""
    sizes = np.bincount(labels)
    large = np.flatnonzero(sizes >= smallest)
    if len(large) < max(1, fewest) or len(large) == len(sizes):
        return labels
    small = ~np.isin(labels, large)
    labels = labels.copy()
    labels[small] = large[np.argmax(embeddings[small] @ centroids(embeddings, labels)[large].T, axis=1)]
    return np.unique(labels, return_inverse=True)[1]


def _spectral(embeddings: np.ndarray, settings: ClusterSettings) -> np.ndarray:
    """One level of clustering: the one-speaker test, then spectral clustering with an eigengap count."""
    from scipy.sparse.csgraph import laplacian
    from sklearn.cluster import SpectralClustering

    count = len(embeddings)
    most = min(settings.most, count - 1)
    if most < 2:
        return np.zeros(count, dtype=int)
    if settings.num_speakers is None and settings.min_speakers == 1 and one_speaker(embeddings, settings):
        return np.zeros(count, dtype=int)
    centred = unit(embeddings - embeddings.mean(axis=0))
    affinity = np.clip(centred @ centred.T, 0.0, None)
    if settings.num_speakers is not None:
        k = most
    else:
        k = min(max(eigengap_count(laplacian(affinity, normed=True), most), settings.min_speakers), most)
    with warnings.catch_warnings():  # well-separated speakers leave the clipped affinity graph disconnected
        warnings.filterwarnings("ignore", message="Graph is not fully connected")
        labels = SpectralClustering(n_clusters=k, affinity="precomputed", random_state=0).fit_predict(affinity)
    return np.unique(labels, return_inverse=True)[1]


def one_speaker(embeddings: np.ndarray, settings: ClusterSettings) -> bool:
    """Whether the graph of the windows' sharpened similarities (on ``test_columns``) is connected well enough for
    one speaker; of more than ``chunk`` windows, ``chunk`` spread evenly are tested."""
    from scipy.sparse.csgraph import laplacian

    if len(embeddings) > settings.chunk:
        embeddings = embeddings[_spread(len(embeddings), settings.chunk)]
    tested = unit(embeddings if settings.test_columns is None else embeddings[:, slice(*settings.test_columns)])
    sharpened = np.clip(tested @ tested.T, 0.0, None) ** _SHARPEN
    return bool(np.linalg.eigvalsh(laplacian(sharpened, normed=True))[1] >= settings.one_speaker_connectivity)


def voices_alike(local_means: np.ndarray, similarity: float, most: int) -> bool:
    """Whether the chunk-local speakers' mean embeddings (rows) are one voice: the 5th percentile of their pairwise
    cosine similarities reaches ``similarity``; of more than ``most`` rows, ``most`` spread evenly are compared."""
    if len(local_means) > most:
        local_means = local_means[_spread(len(local_means), most)]
    means = unit(local_means)
    pairs = (means @ means.T)[np.triu_indices(len(means), 1)]
    return bool(np.percentile(pairs, _LEAST_ALIKE) >= similarity) if len(pairs) else True


def split_shared(embeddings: np.ndarray, labels: np.ndarray, local_windows: Sequence[np.ndarray],
                 local_chunks: Sequence[int], settings: ClusterSettings, share: float = 0.05) -> np.ndarray:
    """``labels`` with each cluster that holds two chunk-local speakers of one chunk (each counted in the cluster
    most of its windows have) in more than ``share`` of the chunks where it holds any, clustered in two on its own
    windows; most shared first, up to ``settings.most`` clusters; labels ``0…k-1``. (The share keeps a stray
    segmentation error in a long recording from splitting a voice.)"""
    held: dict[int, list[int]] = {}  # chunk → the cluster of each of its local speakers
    for windows, chunk in zip(local_windows, local_chunks, strict=True):
        held.setdefault(chunk, []).append(int(np.bincount(labels[windows]).argmax()))
    present: dict[int, int] = {}  # cluster → chunks where it holds a local speaker
    shared: dict[int, int] = {}  # cluster → chunks where it holds two
    for clusters in held.values():
        for label in set(clusters):
            present[label] = present.get(label, 0) + 1
            shared[label] = shared.get(label, 0) + (clusters.count(label) > 1)
    out = labels.copy()
    for label in sorted(shared, key=lambda k: (-shared[k], k)):
        if out.max() + 1 >= settings.most:
            break
        members = np.flatnonzero(labels == label)
        if shared[label] <= share * present[label] or len(members) < 3:
            continue
        parts = cluster(embeddings[members], replace(settings, num_speakers=2))
        out[members[parts == 1]] = out.max() + 1
    return np.unique(out, return_inverse=True)[1]


def eigengap_count(normalised_laplacian: np.ndarray, most: int) -> int:
    """The number of clusters (2…``most``) after which the Laplacian's sorted eigenvalues jump most."""
    eigen = np.linalg.eigvalsh(normalised_laplacian)[:most + 1]
    return int(np.argmax(np.diff(eigen)[1:most])) + 2


def merge_similar(embeddings: np.ndarray, labels: np.ndarray, similarity: float, fewest: int) -> np.ndarray:
    """Join the two most similar clusters while their centroids are at least ``similarity`` alike; relabel 0…k-1."""
    labels = labels.copy()
    while labels.max() + 1 > fewest:
        means = centroids(embeddings, labels)
        pairs = means @ means.T
        np.fill_diagonal(pairs, -np.inf)
        a, b = np.unravel_index(int(np.argmax(pairs)), pairs.shape)
        if pairs[a, b] < similarity:
            break
        labels[labels == max(a, b)] = min(a, b)
        labels = np.unique(labels, return_inverse=True)[1]
    return labels


__all__ = ["MAX_AUTO_SPEAKERS", "ClusterSettings", "centroids", "cluster", "cluster_direct", "eigengap_count",
           "merge_similar", "one_speaker", "split_shared", "unit", "voices_alike"]
