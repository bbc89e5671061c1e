"""The encoder-free steps of embedded.diarization on planted data: clustering, speaker count, resegmentation,
overlap."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from qasr_plugins.stages.diarization.clustering import (
    ClusterSettings,
    cluster,
    cluster_direct,
    split_shared,
    voices_alike,
)
from qasr_plugins.stages.diarization.resegmentation import (
    FRAME,
    FrameGrid,
    close_rivals,
    frame_scores,
    log_posteriors,
    overlapped,
    viterbi,
)


def planted_windows(speakers: int, per_speaker: int, seed: int = 0, dim: int = 64,
                    spread: float = 0.35) -> tuple[np.ndarray, np.ndarray]:
    """Unit embeddings around ``speakers`` random voices that share a channel component, in turns of 20."""
    rng = np.random.default_rng(seed)
    channel = rng.normal(size=dim)
    voices = rng.normal(size=(speakers, dim)) + 1.5 * channel
    turns = np.repeat(np.arange(speakers), 20)
    labels = np.concatenate([rng.permutation(turns) for _ in range(per_speaker // 20)])
    points = voices[labels] / np.linalg.norm(voices[labels], axis=1, keepdims=True)
    points = points + spread * rng.normal(size=points.shape) / np.sqrt(dim)
    return points / np.linalg.norm(points, axis=1, keepdims=True), labels


def same_partition(found: np.ndarray, truth: np.ndarray) -> bool:
    pairs = set(zip(found.tolist(), truth.tolist(), strict=True))
    return len(pairs) == len(set(found.tolist())) == len(set(truth.tolist()))


def agreement(found: np.ndarray, truth: np.ndarray) -> float:
    """Share of windows in their cluster's majority speaker."""
    return sum(np.bincount(truth[found == label]).max() for label in np.unique(found)) / len(found)


@pytest.mark.parametrize("speakers", [1, 2, 3, 4, 6])
def test_the_speaker_count_of_planted_clusters_is_found(speakers: int) -> None:
    embeddings, truth = planted_windows(speakers, 100, seed=speakers)
    labels = cluster_direct(embeddings, ClusterSettings())
    assert labels.max() + 1 == speakers
    assert same_partition(labels, truth)


def test_the_one_speaker_test_reads_only_its_columns() -> None:
    """Joined embeddings whose first part sees one voice and whose second part sees three: the test on the first
    part's columns keeps one speaker, on all columns it does not."""
    rng = np.random.default_rng(5)
    three, _ = planted_windows(3, 100, seed=5)
    one = np.tile(rng.normal(size=64), (len(three), 1)) + 0.05 * rng.normal(size=(len(three), 64))
    joined = np.hstack([one / np.linalg.norm(one, axis=1, keepdims=True), three]) / np.sqrt(2)
    assert cluster_direct(joined, ClusterSettings(test_columns=(0, 64))).max() == 0
    assert cluster_direct(joined, ClusterSettings()).max() + 1 >= 2


def test_voices_alike_reads_the_least_similar_pairs() -> None:
    """Twenty means of one voice are alike; one other voice among them (a twentieth of the rows, so about a tenth of
    the pairs) makes them unlike; past ``most`` rows, an even spread is compared."""
    rng = np.random.default_rng(2)
    voice = rng.normal(size=64)
    one = voice + 0.2 * rng.normal(size=(20, 64))
    assert voices_alike(one, 0.84, most=1500)
    assert not voices_alike(np.vstack([one[:19], rng.normal(size=(1, 64))]), 0.84, most=1500)
    assert not voices_alike(one, 0.999, most=1500)
    assert voices_alike(np.vstack([one] * 100), 0.84, most=50)
    assert voices_alike(one[:1], 0.84, most=1500)  # no pairs: nothing tells the voices apart


def test_a_cluster_holding_two_local_speakers_of_one_chunk_is_split() -> None:
    """Three planted voices labelled as two clusters (voices 1 and 2 joined): local speakers of voices 1 and 2 in
    one chunk show the joined cluster holds two voices, and it is split along the voices; local speakers of
    different clusters, or of different chunks, split nothing; the split stops at ``most`` clusters."""
    embeddings, truth = planted_windows(3, 100, seed=7)
    joined = np.where(truth == 2, 1, truth)
    voice = {v: np.flatnonzero(truth == v) for v in range(3)}
    same_chunk = [voice[1][:10], voice[2][:10], voice[0][:10]]
    split = split_shared(embeddings, joined, same_chunk, [4, 4, 4], ClusterSettings())
    assert same_partition(split, truth)
    assert same_partition(split_shared(embeddings, joined, same_chunk, [4, 5, 6], ClusterSettings()), joined)
    assert same_partition(split_shared(embeddings, joined, [voice[0][:10], voice[1][:10]], [4, 4], ClusterSettings()),
                          joined)
    once_in_two = [*same_chunk, voice[1][10:20]]  # the joined cluster heard in chunks 4 and 9, shared in 4
    assert same_partition(split_shared(embeddings, joined, once_in_two, [4, 4, 4, 9], ClusterSettings()), truth)
    assert same_partition(split_shared(embeddings, joined, once_in_two, [4, 4, 4, 9], ClusterSettings(), share=0.5),
                          joined)
    capped = split_shared(embeddings, joined, same_chunk, [4, 4, 4], ClusterSettings(max_speakers=2))
    assert same_partition(capped, joined)


def test_a_rarely_shared_cluster_does_not_stop_the_split_of_another() -> None:
    """Voices 0 and 1 joined, heard in 60 chunks and shared in 2 (3 %: not split); voices 2 and 3 joined, shared in
    the one chunk they are heard in (split), though fewer chunks share them."""
    embeddings, truth = planted_windows(4, 100, seed=11)
    joined = truth // 2
    voice = {v: np.flatnonzero(truth == v) for v in range(4)}
    windows = [voice[0][i:i + 2] for i in range(60)] + [voice[1][:2], voice[1][2:4], voice[2][:5], voice[3][:5]]
    chunks = list(range(60)) + [0, 1, 100, 100]
    split = split_shared(embeddings, joined, windows, chunks, ClusterSettings())
    assert same_partition(split, np.where(truth == 3, 2, joined))


def test_count_bounds_are_obeyed_on_planted_clusters() -> None:
    embeddings, _ = planted_windows(4, 60)
    for settings, fewest, most in ((ClusterSettings(num_speakers=2), 2, 2), (ClusterSettings(max_speakers=3), 2, 3),
                                   (ClusterSettings(max_speakers=1), 1, 1), (ClusterSettings(min_speakers=5), 5, 5)):
        assert fewest <= cluster_direct(embeddings, settings).max() + 1 <= most, settings


def test_long_recordings_are_clustered_without_a_full_affinity_matrix() -> None:
    embeddings, truth = planted_windows(3, 2000, seed=5)  # 6000 windows
    embeddings = embeddings.astype(np.float32)
    full = len(embeddings) ** 2 * 4  # one float32 N × N matrix: 144 MB
    tracemalloc.start()
    labels = cluster(embeddings, ClusterSettings(chunk=500))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert same_partition(labels, truth)
    assert peak < full / 8, f"peak {peak / 2**20:.0f} MiB"


@pytest.mark.parametrize("per_speaker", [100, 1000, 3000])
def test_long_recordings_find_the_same_speakers_as_short_ones(per_speaker: int) -> None:
    embeddings, truth = planted_windows(4, per_speaker, seed=11, spread=0.9)
    settings = ClusterSettings(chunk=500)
    assert same_partition(cluster_direct(embeddings[:400], settings), truth[:400])  # what a short recording finds
    labels = cluster(embeddings, settings)
    assert labels.max() + 1 == 4
    assert agreement(labels, truth) >= 0.995


def test_a_speaker_with_one_percent_of_a_long_recording_is_found() -> None:
    embeddings, truth = planted_windows(3, 2000, seed=7)
    rare = np.flatnonzero(truth == 2)[:60]  # 60 of 4060 windows: 1.5 %
    keep = np.sort(np.concatenate([np.flatnonzero(truth != 2), rare]))
    labels = cluster(embeddings[keep], ClusterSettings(chunk=500, min_cluster=4))
    assert same_partition(labels, truth[keep])


def test_resegmentation_fixes_a_planted_mislabelled_run() -> None:
    frames = 200
    scores = np.zeros((frames, 2))
    scores[:100, 0], scores[:100, 1] = 0.6, 0.4
    scores[100:, 0], scores[100:, 1] = 0.4, 0.6
    scores[40:46] = [0.48, 0.52]  # 0.3 s that look a little like the other speaker
    assert (scores.argmax(axis=1)[40:46] == 1).all()
    path = viterbi(log_posteriors(scores, 0.05), stay=1 - FRAME / 2.0)
    assert (path[:100] == 0).all() and (path[100:] == 1).all()


def test_a_long_run_of_the_other_speaker_is_kept() -> None:
    scores = np.tile([0.6, 0.4], (200, 1))
    scores[60:100] = [0.3, 0.7]  # 2 s of the other speaker
    path = viterbi(log_posteriors(scores, 0.05), stay=1 - FRAME / 2.0)
    assert (path[60:100] == 1).all() and (path[:60] == 0).all() and (path[100:] == 0).all()


def test_frame_scores_average_the_covering_windows() -> None:
    grid = FrameGrid(1.0, 20)  # 1.0 … 2.0 s
    starts, ends = np.array([1.0, 1.5]), np.array([1.5, 2.0])
    scores = np.array([[1.0, 0.0], [0.0, 1.0]])
    found = frame_scores(grid, starts, ends, scores)
    assert np.allclose(found[:10], [1.0, 0.0]) and np.allclose(found[10:], [0.0, 1.0])
    lonely = frame_scores(FrameGrid(3.0, 4), starts, ends, scores)  # no window covers it: the nearest one's
    assert np.allclose(lonely, [0.0, 1.0])


def test_overlap_is_a_close_second_speaker_long_enough() -> None:
    scores = np.tile([0.7, 0.2, 0.1], (60, 1))
    scores[20:30] = [0.6, 0.58, 0.1]  # 0.5 s where speaker 1 talks too
    scores[45:46] = [0.6, 0.1, 0.58]  # one frame: too short
    path = np.zeros(60, dtype=int)
    second = overlapped(scores, path, close_rivals(scores, path, margin=0.05), min_frames=3)
    assert (second[20:30] == 1).all()
    assert (np.delete(second, np.arange(20, 30)) == -1).all()


def test_overlap_from_a_detector_takes_the_best_other_speaker() -> None:
    scores = np.tile([0.7, 0.2, 0.4], (40, 1))
    detected = np.zeros(40, dtype=bool)
    detected[10:20] = True  # e.g. frames where segmentation counts two speakers
    detected[30:31] = True  # too short
    second = overlapped(scores, np.zeros(40, dtype=int), detected, min_frames=3)
    assert (second[10:20] == 2).all() and (np.delete(second, np.arange(10, 20)) == -1).all()
    alone = overlapped(scores[:, :1], np.zeros(40, dtype=int), detected, min_frames=3)  # one speaker: nobody else
    assert (alone == -1).all()
