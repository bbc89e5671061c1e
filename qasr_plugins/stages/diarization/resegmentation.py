"""Frame-level resegmentation: speaker scores on a 50 ms grid, a Viterbi path through them, overlapped speech.

Each frame's score for a speaker is the mean cosine similarity to that speaker's centroid over the windows that
cover the frame (the nearest window when none does), summed in one pass with difference arrays. Scores become
log-posteriors through a softmax of temperature ``temperature``; a hidden Markov model whose speaker stays put
with probability ``1 - FRAME / mean_turn`` per frame picks the most likely speaker sequence (Viterbi), so a short
run of frames that looks like another speaker only changes the path when the evidence outweighs two switches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qasr_plugins.sequences import runs

FRAME = 0.05  # resolution of the resegmentation (s)


@dataclass(frozen=True)
class FrameGrid:
    """``count`` frames of :data:`FRAME` seconds from ``start``."""

    start: float
    count: int

    def times(self) -> np.ndarray:
        return self.start + (np.arange(self.count) + 0.5) * FRAME


def frame_scores(grid: FrameGrid, starts: np.ndarray, ends: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Frame × speaker mean of the ``scores`` of the windows ``[starts, ends)`` covering each frame's middle.

    Memory is frames + windows (no frame × window matrix); frames no window covers take the nearest window's.
    """
    first = np.clip(np.ceil((starts - grid.start) / FRAME - 0.5), 0, grid.count).astype(int)
    stop = np.clip(np.floor((ends - grid.start) / FRAME - 0.5) + 1, 0, grid.count).astype(int)
    stop = np.maximum(stop, first)
    delta = np.zeros((grid.count + 1, scores.shape[1]))
    np.add.at(delta, first, scores)
    np.add.at(delta, stop, -scores)
    counts = np.zeros(grid.count + 1)
    np.add.at(counts, first, 1.0)
    np.add.at(counts, stop, -1.0)
    total = np.cumsum(delta, axis=0)[:-1]
    covered = np.cumsum(counts)[:-1]
    empty = covered < 0.5
    if empty.any():
        middles = (starts + ends) / 2
        order = np.argsort(middles)
        times = grid.times()[empty]
        right = np.clip(np.searchsorted(middles[order], times), 0, len(order) - 1)
        left = np.clip(right - 1, 0, len(order) - 1)
        pick = np.where(np.abs(middles[order][left] - times) <= np.abs(middles[order][right] - times), left, right)
        total[empty] = scores[order[pick]]
        covered[empty] = 1.0
    return total / covered[:, None]


def log_posteriors(scores: np.ndarray, temperature: float) -> np.ndarray:
    """Row-wise log-softmax of ``scores / temperature``."""
    scaled = scores / temperature
    scaled -= scaled.max(axis=1, keepdims=True)
    return scaled - np.log(np.exp(scaled).sum(axis=1, keepdims=True))


def viterbi(log_emission: np.ndarray, stay: float) -> np.ndarray:
    """The most likely state per frame of an HMM that keeps its state with probability ``stay`` and moves to each
    other state with equal probability; uniform start."""
    frames, states = log_emission.shape
    if states == 1:
        return np.zeros(frames, dtype=int)
    log_stay, log_move = np.log(stay), np.log((1 - stay) / (states - 1))
    back = np.empty((frames, states), dtype=np.int32)
    score = log_emission[0].copy()
    back[0] = np.arange(states)
    own = np.arange(states)
    for t in range(1, frames):
        best = int(score.argmax())
        moved = score[best] + log_move
        kept = score + log_stay
        take = kept >= moved
        back[t] = np.where(take, own, best)
        score = np.where(take, kept, moved) + log_emission[t]
    path = np.empty(frames, dtype=int)
    path[-1] = int(score.argmax())
    for t in range(frames - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def smooth(labels: np.ndarray, min_frames: int) -> np.ndarray:
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


def close_rivals(scores: np.ndarray, path: np.ndarray, margin: float) -> np.ndarray:
    """Per frame, whether another speaker scores within ``margin`` of ``path``'s."""
    rows = np.arange(len(path))
    rival = scores.copy()
    rival[rows, path] = -np.inf
    return scores[rows, path] - rival.max(axis=1) <= margin


def overlapped(scores: np.ndarray, path: np.ndarray, overlap: np.ndarray, min_frames: int) -> np.ndarray:
    """Per frame, the second speaker talking over ``path``'s (-1: none): the best other speaker on the frames
    where ``overlap`` holds, in runs of at least ``min_frames`` frames."""
    rows = np.arange(len(path))
    rival = scores.copy()
    rival[rows, path] = -np.inf
    labels = np.where(overlap & (scores.shape[1] > 1), rival.argmax(axis=1), -1)
    for first, stop, speaker in runs(labels):
        if speaker >= 0 and stop - first < min_frames:
            labels[first:stop] = -1
    return labels


__all__ = ["FRAME", "FrameGrid", "close_rivals", "frame_scores", "log_posteriors", "overlapped", "smooth", "viterbi"]
