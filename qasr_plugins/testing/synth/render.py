"""Render a scripted conversation with espeak-ng (and sox for the channel) into audio and exact references.

Each :class:`Conversation` is a script of utterances, one espeak-ng voice per speaker, with the pause before
each utterance (negative: it starts before the previous one ends, i.e. overlapped speech) or the point inside
the previous utterance where an interjection starts. :func:`synthesize` renders it to ``<name>.wav``
(16 kHz mono) plus ``<name>.rttm`` and ``<name>.stm`` whose turns are the exact extents of the rendered speech,
and a ``<name>.synth`` JSON sidecar (a suffix ``qasr eval`` skips in a directory) that makes a second call
with the same script a cheap read. Output is deterministic: espeak-ng and sox render the same samples for the
same input and the noise comes from a seeded generator.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import json
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qasr_plugins.audio import resample
from qasr_plugins.errors import StageError
from qasr_plugins.types import SAMPLE_RATE, Span

#: Samples whose magnitude is below this (relative to the utterance peak) count as silence when trimming.
_TRIM_LEVEL = 0.02
#: Bumped whenever rendering changes, so cached files from an older renderer are not reused.
RENDER_VERSION = 2
NOISE_COLOURS = ("white", "pink", "brown")
_HEADROOM = 0.3  # peak level of what goes into sox


@dataclass(frozen=True)
class Voice:
    """An espeak-ng voice: ``name`` such as ``"en-us+m3"``, pitch 0–99, speed in words per minute."""

    name: str
    pitch: int = 50
    speed: int = 165


@dataclass(frozen=True)
class Utterance:
    speaker: str
    text: str
    pause: float = 0.6  # seconds of silence before it; negative overlaps the previous utterance
    interject: float | None = None  # start at this fraction of the previous utterance (overlapping it)


@dataclass(frozen=True)
class Conversation:
    name: str
    voices: Mapping[str, Voice]
    utterances: tuple[Utterance, ...]
    noise_snr_db: float | None = None  # noise at this SNR (over the speech), None for clean
    seed: int = 0
    lead_in: float = 0.5  # silence before the first utterance (s)
    noise_colour: str = "white"  # one of NOISE_COLOURS
    reverberance: int | None = None  # sox ``reverb`` reverberance (0–100), None for a dry room
    telephone: bool = False  # narrow band: 8 kHz, 300–3400 Hz, back to 16 kHz


@dataclass(frozen=True)
class ReferenceTurn:
    span: Span
    speaker: str
    text: str


@dataclass(frozen=True)
class SynthesizedConversation:
    """A rendered conversation: its files and exact reference turns."""

    name: str
    wav: Path
    rttm: Path
    stm: Path
    turns: tuple[ReferenceTurn, ...]

    @property
    def speakers(self) -> tuple[str, ...]:
        return tuple(sorted({t.speaker for t in self.turns}))

    @property
    def duration(self) -> float:
        """Seconds of audio, read from the WAV header."""
        import soundfile as sf

        return float(sf.info(self.wav).duration)


def _program(name: str, package: str) -> str:
    program = shutil.which(name)
    if program is None:
        raise StageError(f"{name} is not installed.", where="qasr_plugins.testing.synth", code="S410",
                         hint=f"Install it (Debian/Ubuntu: apt-get install {package}).")
    return program


@functools.lru_cache(maxsize=8192)
def _render_cached(text: str, voice: Voice) -> np.ndarray:
    import soundfile as sf

    command = [_program("espeak-ng", "espeak-ng"), "-v", voice.name, "-p", str(voice.pitch), "-s", str(voice.speed),
               "--stdout", text]
    result = subprocess.run(command, capture_output=True, check=False)
    if result.returncode != 0 or not result.stdout:
        raise StageError(f"espeak-ng failed: {result.stderr.decode(errors='replace').strip()}",
                         where=" ".join(command[:-1]), code="S413", hint="Check the voice name (espeak-ng --voices).")
    data, rate = sf.read(io.BytesIO(result.stdout), dtype="float32")
    samples = resample(np.asarray(data, dtype=np.float32).reshape(-1), rate, SAMPLE_RATE)
    loud = np.flatnonzero(np.abs(samples) >= _TRIM_LEVEL * np.abs(samples).max())
    trimmed = samples[loud[0]:loud[-1] + 1].copy()
    trimmed.flags.writeable = False
    return trimmed


def render_voice(text: str, voice: Voice) -> np.ndarray:
    """One utterance as float32 16 kHz samples, leading and trailing silence trimmed (cached per process).

    Raises:
        StageError: ``S410`` when espeak-ng is not installed, ``S413`` when it fails.
    """
    return _render_cached(text, voice).copy()


def sox(samples: np.ndarray, effects: Sequence[str]) -> np.ndarray:
    """``samples`` (float32, 16 kHz, |x| < 1) through the sox ``effects``, cut or zero-padded to the same length."""
    raw = ["-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1", "-r", str(SAMPLE_RATE)]
    command = [_program("sox", "sox"), "-D", "-V1", *raw, "-", *raw, "-", *effects]
    result = subprocess.run(command, input=samples.astype("<f4").tobytes(), capture_output=True, check=False)
    if result.returncode != 0:
        raise StageError(f"sox failed: {result.stderr.decode(errors='replace').strip()}", where=" ".join(command),
                         code="S413", hint="Check the effects (sox --help-effect all).")
    out = np.frombuffer(result.stdout, dtype="<f4").astype(np.float32)
    fitted = np.zeros(len(samples), dtype=np.float32)
    fitted[:min(len(out), len(samples))] = out[:len(samples)]
    return fitted


def coloured_noise(colour: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-power white, pink (1/f) or brown (1/f²) noise."""
    if colour not in NOISE_COLOURS:
        raise ValueError(f"noise colour {colour!r} is not one of {NOISE_COLOURS}")
    white = rng.normal(0.0, 1.0, size)
    if colour != "white":
        spectrum = np.fft.rfft(white)
        frequency = np.fft.rfftfreq(size, 1 / SAMPLE_RATE)
        frequency[0] = frequency[1] if size > 1 else 1.0
        spectrum /= frequency ** (0.5 if colour == "pink" else 1.0)
        white = np.fft.irfft(spectrum, n=size)
    return (white / max(float(np.sqrt(np.mean(white ** 2))), 1e-12)).astype(np.float32)


def _place(conversation: Conversation, lengths: Sequence[int]) -> list[int]:
    """Start sample of every utterance."""
    starts: list[int] = []
    previous_end = round(conversation.lead_in * SAMPLE_RATE)
    for index, (utterance, length) in enumerate(zip(conversation.utterances, lengths, strict=True)):
        if utterance.interject is not None and starts:
            start = starts[index - 1] + round(utterance.interject * lengths[index - 1])
        else:
            start = max(0, previous_end + round(utterance.pause * SAMPLE_RATE))
        starts.append(start)
        previous_end = max(previous_end, start + length)
    return starts


def _layout(conversation: Conversation) -> tuple[list[np.ndarray], list[int], int]:
    """Every utterance's samples, its start, and the length of the recording in samples."""
    voices = conversation.voices
    clips = [_render_cached(u.text, voices[u.speaker]) for u in conversation.utterances]
    starts = _place(conversation, [len(c) for c in clips])
    total = max(s + len(c) for s, c in zip(starts, clips, strict=True)) + round(conversation.lead_in * SAMPLE_RATE)
    return clips, starts, total


def rendered_seconds(conversation: Conversation) -> float:
    """How long the rendered recording lasts: the speech is rendered, the mix and the channel are not."""
    return _layout(conversation)[2] / SAMPLE_RATE


def _mix(conversation: Conversation) -> tuple[np.ndarray, tuple[ReferenceTurn, ...]]:
    clips, starts, total = _layout(conversation)
    mix = np.zeros(total, dtype=np.float32)
    for start, clip in zip(starts, clips, strict=True):
        mix[start:start + len(clip)] += clip
    speech_power = float(np.mean(np.concatenate(clips) ** 2))
    if conversation.reverberance is not None:
        gain = _HEADROOM / max(float(np.abs(mix).max()), 1e-9)  # sox clips at full scale
        mix = sox(mix * gain, ["reverb", str(conversation.reverberance)]) / gain
    if conversation.noise_snr_db is not None:
        noise_power = speech_power / 10 ** (conversation.noise_snr_db / 10)
        rng = np.random.default_rng(conversation.seed)
        if conversation.noise_colour == "white":  # the original generator's draw, kept for its samples
            mix += rng.normal(0.0, np.sqrt(noise_power), size=total).astype(np.float32)
        else:
            mix += np.float32(np.sqrt(noise_power)) * coloured_noise(conversation.noise_colour, total, rng)
    if conversation.telephone:
        gain = _HEADROOM / max(float(np.abs(mix).max()), 1e-9)
        mix = sox(mix * gain, ["rate", "8k", "sinc", "300-3400", "rate", "16k"]) / gain
    peak = float(np.abs(mix).max())
    if peak > 0.95:
        mix *= 0.95 / peak
    turns = tuple(ReferenceTurn(Span(s / SAMPLE_RATE, (s + len(c)) / SAMPLE_RATE), u.speaker, u.text)
                  for s, c, u in zip(starts, clips, conversation.utterances, strict=True))
    return mix, turns


def cache_key(conversation: Conversation) -> str:
    """What the rendered files depend on: the script, the channel and the renderer's version."""
    payload = json.dumps({"version": RENDER_VERSION, "conversation": dataclasses.asdict(conversation)},
                         sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def _cached(conversation: Conversation, directory: Path) -> SynthesizedConversation | None:
    name = conversation.name
    paths = [directory / f"{name}.{suffix}" for suffix in ("wav", "rttm", "stm", "synth")]
    if not all(p.is_file() for p in paths):
        return None
    try:
        sidecar = json.loads(paths[3].read_text(encoding="utf-8"))
    except ValueError:
        return None
    if sidecar.get("key") != cache_key(conversation):
        return None
    turns = tuple(ReferenceTurn(Span(t["start"], t["end"]), t["speaker"], t["text"]) for t in sidecar["turns"])
    return SynthesizedConversation(name, *paths[:3], turns)


def synthesize(conversation: Conversation, directory: str | Path, *, cache: bool = True) -> SynthesizedConversation:
    """Render ``conversation`` into ``directory`` as ``<name>.wav``, ``.rttm``, ``.stm`` and a ``.synth`` sidecar.

    With ``cache`` (the default) files already rendered from the same script are reused.
    """
    import soundfile as sf

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if cache and (found := _cached(conversation, directory)) is not None:
        return found
    mix, turns = _mix(conversation)
    name = conversation.name
    wav, rttm, stm, sidecar = (directory / f"{name}.{suffix}" for suffix in ("wav", "rttm", "stm", "synth"))
    sf.write(wav, mix, SAMPLE_RATE, subtype="PCM_16")
    rttm.write_text("".join(f"SPEAKER {name} 1 {t.span.start:.3f} {t.span.duration:.3f} <NA> <NA> {t.speaker} "
                            "<NA> <NA>\n" for t in turns), encoding="utf-8")
    stm.write_text("".join(f"{name} 1 {t.speaker} {t.span.start:.3f} {t.span.end:.3f} {t.text}\n" for t in turns),
                   encoding="utf-8")
    sidecar.write_text(json.dumps({"key": cache_key(conversation), "turns": [
        {"start": t.span.start, "end": t.span.end, "speaker": t.speaker, "text": t.text} for t in turns]}),
        encoding="utf-8")
    return SynthesizedConversation(name, wav, rttm, stm, turns)


def overlap_ratio(turns: Sequence[ReferenceTurn]) -> float:
    """Seconds where two or more speakers talk over seconds where anyone talks."""
    events = sorted([(t.span.start, 1) for t in turns] + [(t.span.end, -1) for t in turns])
    active, last, speech, overlapped = 0, 0.0, 0.0, 0.0
    for time, step in events:
        if active >= 1:
            speech += time - last
        if active >= 2:
            overlapped += time - last
        active, last = active + step, time
    return overlapped / speech if speech > 0 else 0.0
