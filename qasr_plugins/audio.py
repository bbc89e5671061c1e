"""Audio input: any file ffmpeg or libsndfile can read, arrays, and pyannote-style dicts → :class:`Audio`.

Decoding order: libsndfile (``soundfile``: wav, flac, ogg/vorbis/opus, mp3 …), then ffmpeg (``torchcodec`` when
installed, else the ``ffmpeg`` program) for everything else, the audio track of a video container included.
Channels are averaged; resampling uses ``soxr`` (VHQ).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from qasr_plugins.errors import InputError
from qasr_plugins.types import SAMPLE_RATE, Audio

AUDIO_SUFFIXES = frozenset({
    ".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aac", ".wma", ".aiff", ".aif", ".au", ".caf", ".webm",
    ".mp4", ".mkv", ".mov", ".avi", ".sph", ".amr", ".3gp",
})


def resample(waveform: np.ndarray, sample_rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Resample a mono float waveform with soxr (no-op when rates agree)."""
    if sample_rate == target:
        return waveform.astype(np.float32, copy=False)
    import soxr

    return soxr.resample(waveform.astype(np.float32, copy=False), sample_rate, target, quality="VHQ").astype(
        np.float32, copy=False)


def _downmix(data: np.ndarray) -> np.ndarray:
    """(T,) or (T, C) → (T,). Channels-first (C, T) input with few channels is transposed first."""
    data = np.asarray(data, dtype=np.float32)
    if data.ndim == 1:
        return data
    if data.ndim != 2:
        raise ValueError(f"expected 1-D or 2-D audio, got shape {data.shape}")
    if data.shape[0] < data.shape[1] and data.shape[0] <= 8:
        data = data.T
    return data.mean(axis=1)


def _check(waveform: np.ndarray, where: str) -> np.ndarray:
    if waveform.size == 0:
        raise InputError("contains no audio samples.", where=where, code="I302",
                         hint="Check the file is not empty or truncated.")
    if not np.isfinite(waveform).any():
        raise InputError("contains only NaN/inf samples.", where=where, code="I303",
                         hint="Re-export the audio; the samples are corrupt.")
    if not np.isfinite(waveform).all():
        waveform = np.nan_to_num(waveform, nan=0.0, posinf=0.0, neginf=0.0)
    return waveform


def _read_soundfile(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return data.mean(axis=1), int(rate)


#: Bytes per sample of the uncompressed libsndfile subtypes whose data size follows from the header's frame count.
_SAMPLE_BYTES = {"PCM_S8": 1, "PCM_U8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8,
                 "ULAW": 1, "ALAW": 1}
_HEADER_SLACK = 8192
"""Bytes beyond the declared audio an uncompressed file may hold (header, metadata chunks) before it is flagged."""


def _length_warnings(path: Path) -> tuple[str, ...]:
    """A warning when an uncompressed file holds far more bytes than its header's frame count accounts for.

    A WAV (or AIFF, AU) whose length field is wrong decodes to the declared length only; the rest of the audio is
    silently missing. Compressed formats have no fixed data size and are not checked.
    """
    import soundfile as sf

    try:
        info = sf.info(str(path))
        width = _SAMPLE_BYTES.get(info.subtype)
        size = path.stat().st_size
    except Exception:  # noqa: BLE001 - no verdict is no warning; decoding already succeeded
        return ()
    if width is None or info.format not in {"WAV", "WAVEX", "AIFF", "AU"}:
        return ()
    hidden = size - info.frames * info.channels * width
    if hidden <= _HEADER_SLACK:
        return ()
    declared = info.frames / info.samplerate
    missing = hidden / (width * info.channels * info.samplerate)
    return ((f"audio.length_mismatch: the header declares {declared:.3f} s but the file holds about {missing:.1f} s "
             "more data; only the declared part was decoded (rewrite the header, e.g. re-export the file)"),)


def _read_ffmpeg(path: Path) -> tuple[np.ndarray, int]:
    try:
        from torchcodec.decoders import AudioDecoder
    except Exception:  # noqa: BLE001 - torchcodec missing or its ffmpeg libraries absent: use the program
        AudioDecoder = None
    if AudioDecoder is not None:
        samples = AudioDecoder(str(path), sample_rate=SAMPLE_RATE, num_channels=1).get_all_samples()
        return samples.data.numpy()[0].astype(np.float32), SAMPLE_RATE
    program = shutil.which("ffmpeg")
    if program is None:
        raise RuntimeError("neither torchcodec nor the ffmpeg program is available to decode this format")
    result = subprocess.run(
        [program, "-nostdin", "-v", "error", "-i", str(path), "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE),
         "-f", "f32le", "-"], capture_output=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(result.stderr.decode(errors="replace").strip() or "ffmpeg failed")
    return np.frombuffer(result.stdout, dtype=np.float32).copy(), SAMPLE_RATE


def load_audio(path: str | Path, *, uri: str | None = None, offset: float = 0.0,
               duration: float | None = None) -> Audio:
    """Read a file as 16 kHz mono float32.

    Args:
        path: Any audio (or video) file libsndfile or ffmpeg can read.
        uri: Name of the recording in outputs (default: the file stem).
        offset: Start reading here (seconds); spans stay absolute in the recording.
        duration: Read at most this many seconds.

    Raises:
        InputError: ``I301`` missing/unreadable/not audio, ``I302`` empty, ``I303`` all-NaN.

    A WAV/AIFF/AU holding much more data than its header declares decodes to the declared length; the returned
    audio's ``warnings`` then say so.
    """
    path = Path(path)
    where = str(path)
    try:
        regular = path.is_file()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        regular = False
    if not regular:
        raise InputError("does not exist or is not a file.", where=where, code="I301",
                         hint="Check the path; directories are expanded only when given as inputs.")
    errors: list[str] = []
    waveform: np.ndarray | None = None
    warnings: tuple[str, ...] = ()
    for reader in (_read_soundfile, _read_ffmpeg):
        try:
            data, rate = reader(path)
        except Exception as exc:  # noqa: BLE001 - each decoder's failure is collected for the message
            errors.append(f"{reader.__name__.removeprefix('_read_')}: {str(exc).splitlines()[0] if str(exc) else exc!r}")
            continue
        waveform = resample(data, rate)
        warnings = _length_warnings(path) if reader is _read_soundfile else ()
        break
    if waveform is None:
        raise InputError("cannot be decoded as audio (" + "; ".join(errors) + ").", where=where, code="I301",
                         hint="Convert it to WAV/FLAC, or install ffmpeg for other formats.")
    if offset or duration is not None:
        first = round(offset * SAMPLE_RATE)
        last = None if duration is None else first + round(duration * SAMPLE_RATE)
        waveform = waveform[first:last]
    waveform = _check(waveform, where)
    return Audio(uri or path.stem, waveform, SAMPLE_RATE, offset=offset, path=str(path), warnings=warnings)


def from_array(waveform: Any, sample_rate: int, *, uri: str = "array", offset: float = 0.0) -> Audio:
    """Wrap an in-memory array (numpy or torch; mono, (T, C) or (C, T)) as :class:`Audio`."""
    if hasattr(waveform, "detach"):
        waveform = waveform.detach().cpu().numpy()
    try:
        mono = _downmix(np.asarray(waveform))
    except ValueError as exc:
        raise InputError(str(exc), where=uri, code="I304", hint="Pass mono (T,) or multichannel audio.") from exc
    return Audio(uri, _check(resample(mono, _rate(sample_rate, uri)), uri), SAMPLE_RATE, offset=offset)


def _rate(sample_rate: Any, uri: str) -> int:
    """``sample_rate`` as a positive whole number of Hz.

    Raises:
        InputError: ``I304`` otherwise (a string, a fraction, zero, a negative number, ``True``).
    """
    whole = isinstance(sample_rate, (int, float, np.integer, np.floating)) and not isinstance(sample_rate, bool) \
        and np.isfinite(sample_rate) and float(sample_rate).is_integer() and sample_rate > 0
    if not whole:
        raise InputError(f"sample rate {sample_rate!r} is not a positive whole number of Hz.", where=uri, code="I304",
                         hint="Give the array's sample rate, e.g. (samples, 16000).")
    return int(sample_rate)


def to_audio(source: Any, *, uri: str | None = None) -> Audio:
    """Accept a path, an :class:`Audio`, a ``(array, sample_rate)`` pair or a pyannote-style dict.

    pyannote dicts: ``{"audio": path}`` or ``{"waveform": (C, T) array/tensor, "sample_rate": int}``, with an
    optional ``"uri"``.
    """
    if isinstance(source, Audio):
        return source
    if isinstance(source, (str, Path)):
        return load_audio(source, uri=uri)
    if isinstance(source, Mapping):
        name = uri or source.get("uri")
        if "waveform" in source:
            if "sample_rate" not in source:
                raise InputError("has 'waveform' but no 'sample_rate'.", where=str(name or "<dict>"), code="I304",
                                 hint="Add the sample rate to the dict.")
            return from_array(source["waveform"], source["sample_rate"], uri=name or "array")
        if "audio" in source:
            return load_audio(source["audio"], uri=name)
        raise InputError("is neither {'audio': path} nor {'waveform', 'sample_rate'}.", where="<dict>", code="I304")
    if isinstance(source, tuple) and len(source) == 2:
        return from_array(source[0], source[1], uri=uri or "array")
    raise InputError(f"unsupported audio input of type {type(source).__name__}.", where=uri or "<input>",
                     code="I304", hint="Pass a path, an Audio, (array, sample_rate) or a pyannote-style dict.")


def clip_file(clip: Any, directory: str | os.PathLike[str], label: str = "reference clip") -> str:
    """A clip (e.g. a known speaker's reference) as a path a setting can name: a path as it is; in-memory audio (an
    :class:`~qasr_plugins.types.Audio`, ``(array, rate)`` or a pyannote dict) written to ``directory`` as a 16 kHz
    WAV named by its samples' hash, so the same clip is the same file (and the same stage-cache key). ``label``
    names the clip in errors."""
    if isinstance(clip, (str, os.PathLike)):
        return os.fspath(clip)
    import hashlib
    import io

    import soundfile as sf

    from qasr_plugins.atomic import write_atomic

    samples = np.ascontiguousarray(to_audio(clip, uri=label).waveform, dtype=np.float32)
    path = Path(directory) / f"{hashlib.sha256(samples.tobytes()).hexdigest()[:32]}.wav"
    if not path.is_file():
        buffer = io.BytesIO()
        sf.write(buffer, samples, SAMPLE_RATE, format="WAV", subtype="FLOAT")
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, buffer.getvalue())
    return str(path)
