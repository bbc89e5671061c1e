"""Synthetic multi-speaker conversations with exact references, built offline with espeak-ng.

Each :class:`Conversation` is a script of utterances, one espeak-ng voice per speaker, with the pause before
each utterance (negative: it starts before the previous one ends, i.e. overlapped speech). :func:`synthesize`
renders it to ``<name>.wav`` (16 kHz mono) plus ``<name>.rttm`` and ``<name>.stm`` whose turns are the exact
extents of the rendered speech. Output is deterministic: espeak-ng renders the same samples for the same text
and the optional noise comes from a seeded generator.

    from qasr_plugins.testing.synth import CONVERSATIONS, synthesize
    sample = synthesize(CONVERSATIONS["two_speakers"], "data/synth")
"""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qasr_plugins.audio import resample
from qasr_plugins.errors import StageError
from qasr_plugins.types import SAMPLE_RATE, Span

#: Samples whose magnitude is below this (relative to the utterance peak) count as silence when trimming.
_TRIM_LEVEL = 0.02


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


@dataclass(frozen=True)
class Conversation:
    name: str
    voices: Mapping[str, Voice]
    utterances: tuple[Utterance, ...]
    noise_snr_db: float | None = None  # white noise at this SNR (over the speech), None for clean
    seed: int = 0
    lead_in: float = 0.5  # silence before the first utterance (s)


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


def render_voice(text: str, voice: Voice) -> np.ndarray:
    """One utterance as float32 16 kHz samples, leading and trailing silence trimmed.

    Raises:
        StageError: ``S410`` when espeak-ng is not installed, ``S413`` when it fails.
    """
    import soundfile as sf

    program = shutil.which("espeak-ng")
    if program is None:
        raise StageError("espeak-ng is not installed.", where="qasr_plugins.testing.synth", code="S410",
                         hint="Install it (Debian/Ubuntu: apt-get install espeak-ng).")
    command = [program, "-v", voice.name, "-p", str(voice.pitch), "-s", str(voice.speed), "--stdout", text]
    result = subprocess.run(command, capture_output=True, check=False)
    if result.returncode != 0 or not result.stdout:
        raise StageError(f"espeak-ng failed: {result.stderr.decode(errors='replace').strip()}",
                         where=" ".join(command[:-1]), code="S413", hint="Check the voice name (espeak-ng --voices).")
    data, rate = sf.read(io.BytesIO(result.stdout), dtype="float32")
    samples = resample(np.asarray(data, dtype=np.float32).reshape(-1), rate, SAMPLE_RATE)
    loud = np.flatnonzero(np.abs(samples) >= _TRIM_LEVEL * np.abs(samples).max())
    return samples[loud[0]:loud[-1] + 1]


def _mix(conversation: Conversation) -> tuple[np.ndarray, tuple[ReferenceTurn, ...]]:
    pieces: list[tuple[int, np.ndarray, ReferenceTurn]] = []
    lead_in = round(conversation.lead_in * SAMPLE_RATE)
    previous_end = lead_in
    for utterance in conversation.utterances:
        samples = render_voice(utterance.text, conversation.voices[utterance.speaker])
        start = max(0, previous_end + round(utterance.pause * SAMPLE_RATE))
        end = start + len(samples)
        pieces.append((start, samples, ReferenceTurn(Span(start / SAMPLE_RATE, end / SAMPLE_RATE),
                                                     utterance.speaker, utterance.text)))
        previous_end = max(previous_end, end)
    total = previous_end + lead_in
    mix = np.zeros(total, dtype=np.float32)
    for start, samples, _ in pieces:
        mix[start:start + len(samples)] += samples
    if conversation.noise_snr_db is not None:
        speech_power = float(np.mean(np.concatenate([s for _, s, _ in pieces]) ** 2))
        noise_power = speech_power / 10 ** (conversation.noise_snr_db / 10)
        rng = np.random.default_rng(conversation.seed)
        mix += rng.normal(0.0, np.sqrt(noise_power), size=total).astype(np.float32)
    peak = float(np.abs(mix).max())
    if peak > 0.95:
        mix *= 0.95 / peak
    return mix, tuple(p[2] for p in pieces)


def synthesize(conversation: Conversation, directory: str | Path) -> SynthesizedConversation:
    """Render ``conversation`` into ``directory`` as ``<name>.wav``, ``<name>.rttm`` and ``<name>.stm``."""
    import soundfile as sf

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    mix, turns = _mix(conversation)
    name = conversation.name
    wav, rttm, stm = (directory / f"{name}.{suffix}" for suffix in ("wav", "rttm", "stm"))
    sf.write(wav, mix, SAMPLE_RATE, subtype="PCM_16")
    rttm.write_text("".join(f"SPEAKER {name} 1 {t.span.start:.3f} {t.span.duration:.3f} <NA> <NA> {t.speaker} "
                            "<NA> <NA>\n" for t in turns), encoding="utf-8")
    stm.write_text("".join(f"{name} 1 {t.speaker} {t.span.start:.3f} {t.span.end:.3f} {t.text}\n" for t in turns),
                   encoding="utf-8")
    return SynthesizedConversation(name, wav, rttm, stm, turns)


_ALICE = Voice("en-us+f3", pitch=70, speed=160)
_BOB = Voice("en-gb+m3", pitch=35, speed=170)
_CAROL = Voice("en-us+f4", pitch=55, speed=150)
_DAVE = Voice("en-us+m1", pitch=45, speed=175)

_DIALOGUE = (
    Utterance("alice", "Good morning, thanks for joining the call today.", 0.0),
    Utterance("bob", "Happy to be here. Shall we start with the budget?", 0.7),
    Utterance("alice", "Yes. The numbers for the third quarter came in last night.", 0.5),
    Utterance("bob", "And how do they look compared with the plan?", 0.9),
    Utterance("alice", "Slightly better than expected, mostly because travel costs went down.", 0.6),
    Utterance("bob", "That is good news. What about hiring?", 0.8),
    Utterance("alice", "We opened two positions, and the interviews start next week.", 0.5),
    Utterance("bob", "Great. Please send me the schedule when you have it.", 0.7),
)

CONVERSATIONS: dict[str, Conversation] = {
    "two_speakers": Conversation("two_speakers", {"alice": _ALICE, "bob": _BOB}, _DIALOGUE),
    "three_speakers": Conversation("three_speakers", {"alice": _ALICE, "bob": _BOB, "dave": _DAVE}, (
        Utterance("alice", "Welcome everyone, let us go around the table.", 0.0),
        Utterance("bob", "I finished the report on the new warehouse yesterday.", 0.6),
        Utterance("dave", "I read it this morning, and I have a few questions about the costs.", 0.8),
        Utterance("alice", "Let us keep those for the end of the meeting.", 0.5),
        Utterance("dave", "Fine by me. I will write them down.", 0.7),
        Utterance("bob", "The main point is that the rent doubles next year.", 0.6),
        Utterance("alice", "That is a big change. Do we have any alternatives?", 0.9),
        Utterance("dave", "There is an empty building near the station that might work.", 0.5),
        Utterance("bob", "I can visit it on Thursday and report back.", 0.6),
    )),
    "overlap": Conversation("overlap", {"carol": _CAROL, "dave": _DAVE}, (
        Utterance("carol", "Did you see the message about the server outage last night?", 0.0),
        Utterance("dave", "Yes, I was on call, it took three hours to bring it back.", 0.6),
        Utterance("carol", "Three hours is a long time for our customers.", 0.5),
        Utterance("dave", "I know, and the backup system did not start automatically.", -0.9),
        Utterance("carol", "We should test the failover every month from now on.", 0.7),
        Utterance("dave", "Agreed. I will put it in the calendar.", 0.6),
    )),
    "noisy": Conversation("noisy", {"alice": _ALICE, "bob": _BOB}, _DIALOGUE[:6], noise_snr_db=10.0, seed=7),
}

__all__ = ["CONVERSATIONS", "Conversation", "ReferenceTurn", "SynthesizedConversation", "Utterance", "Voice",
           "render_voice", "synthesize"]
