"""Audio input: many containers, resampling, downmixing, arrays/dicts, and coded errors."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from qasr_plugins.audio import from_array, load_audio, to_audio
from qasr_plugins.errors import InputError
from qasr_plugins.types import Audio

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="the ffmpeg program is not installed")


@pytest.fixture(scope="module")
def tone_44k_stereo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audio") / "tone.wav"
    t = np.arange(44100 * 2) / 44100
    left = 0.5 * np.sin(2 * np.pi * 440 * t)
    sf.write(path, np.stack([left, left], axis=1), 44100, subtype="PCM_16")
    return path


def test_wav_is_resampled_and_downmixed(tone_44k_stereo: Path) -> None:
    audio = load_audio(tone_44k_stereo)
    assert audio.sample_rate == 16000 and audio.waveform.dtype == np.float32 and audio.waveform.ndim == 1
    assert audio.duration == pytest.approx(2.0, abs=1e-3) and audio.uri == "tone" and audio.path
    spectrum = np.abs(np.fft.rfft(audio.waveform))
    assert np.fft.rfftfreq(audio.waveform.size, 1 / 16000)[spectrum.argmax()] == pytest.approx(440, abs=2)


@needs_ffmpeg
@pytest.mark.parametrize("suffix,args", [
    (".flac", []), (".mp3", []), (".ogg", ["-c:a", "libvorbis"]), (".opus", ["-c:a", "libopus"]),
    (".m4a", ["-c:a", "aac"]),
    (".mp4", ["-f", "lavfi", "-i", "color=c=black:s=64x64:d=2", "-c:v", "libx264", "-c:a", "aac", "-shortest"]),
])
def test_compressed_and_video_containers(tone_44k_stereo: Path, tmp_path: Path, suffix: str, args: list[str]) -> None:
    out = tmp_path / f"clip{suffix}"
    cmd = ["ffmpeg", "-v", "error", "-y", "-i", str(tone_44k_stereo), *args, str(out)]
    if suffix == ".mp4":  # video input first, then the audio
        cmd = ["ffmpeg", "-v", "error", "-y", *args[:4], "-i", str(tone_44k_stereo), *args[4:], str(out)]
    if subprocess.run(cmd, check=False, capture_output=True).returncode != 0:
        pytest.skip(f"this ffmpeg cannot encode {suffix}")
    audio = load_audio(out)
    assert audio.sample_rate == 16000 and audio.duration == pytest.approx(2.0, abs=0.1)
    assert float(np.abs(audio.waveform).max()) > 0.3


def test_offset_and_duration_keep_absolute_time(tone_44k_stereo: Path) -> None:
    audio = load_audio(tone_44k_stereo, offset=0.5, duration=1.0)
    assert audio.offset == 0.5 and audio.duration == pytest.approx(1.0, abs=1e-3)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_audio(tmp_path / "nope.wav")
    assert info.value.code == "I301" and "nope.wav" in info.value.render()


def test_non_audio_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("this is not audio")
    with pytest.raises(InputError) as info:
        load_audio(path)
    assert info.value.code == "I301" and "notes.wav" in info.value.where


def test_empty_audio(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(InputError) as info:
        load_audio(path)
    assert info.value.code == "I302"


def test_all_nan_audio(tmp_path: Path) -> None:
    path = tmp_path / "nan.wav"
    sf.write(path, np.full(1600, np.nan, dtype=np.float32), 16000, subtype="FLOAT")
    with pytest.raises(InputError) as info:
        load_audio(path)
    assert info.value.code == "I303"


def test_arrays_tensors_and_pyannote_dicts(tone_44k_stereo: Path) -> None:
    import torch

    stereo = np.random.default_rng(0).standard_normal((2, 8000)).astype(np.float32)
    audio = from_array(stereo, 8000, uri="arr")
    assert audio.duration == pytest.approx(1.0) and audio.uri == "arr"
    via_dict = to_audio({"waveform": torch.from_numpy(stereo), "sample_rate": 8000, "uri": "d"})
    assert via_dict.uri == "d" and np.allclose(via_dict.waveform, audio.waveform)
    assert to_audio({"audio": str(tone_44k_stereo)}).uri == "tone"
    assert to_audio((stereo[0], 8000)).duration == pytest.approx(1.0)
    same = Audio("x", np.zeros(10, dtype=np.float32))
    assert to_audio(same) is same
    pyannote_form = audio.to_pyannote()
    assert tuple(pyannote_form["waveform"].shape) == (1, 16000) and pyannote_form["sample_rate"] == 16000
    with pytest.raises(InputError) as info:
        to_audio({"waveform": stereo})
    assert info.value.code == "I304"
    with pytest.raises(InputError):
        to_audio(42)


@pytest.mark.parametrize("rate", [0, -16000, 16000.5, "16000", True, float("nan"), None])
def test_a_bad_sample_rate_is_coded(rate: object) -> None:
    with pytest.raises(InputError) as info:
        to_audio((np.zeros(16_000, dtype=np.float32), rate), uri="clip")
    assert info.value.code == "I304" and info.value.where == "clip" and "sample rate" in info.value.message


def test_a_whole_float_or_numpy_sample_rate_is_accepted() -> None:
    assert to_audio((np.zeros(8_000, dtype=np.float32), np.int64(8000))).duration == pytest.approx(1.0)
    assert to_audio((np.zeros(8_000, dtype=np.float32), 8000.0)).duration == pytest.approx(1.0)
