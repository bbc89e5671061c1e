"""Calibrate ``known_speakers``' threshold on the synthetic corpus: dev conversations pick it, test ones check it.

Each conversation is cut in two: a speaker's embedding comes from its reference turns in the first half (as the
stage embeds a diarized speaker's turns), its reference clip from 2-10 s of its own turns in the second half. Every
conversation is enrolled twice, once with all its speakers that have a clip, once with every other one, and the
stage's own rule names the speakers (one-to-one assignment, similarity at least the threshold). Counted: enrolled
speakers named right, and false names (an enrolled speaker given another's name, or an unenrolled one given any).
The threshold is the one with the fewest dev errors, a false name counting twice a speaker left unnamed.

    python scripts/calibrate_known_speakers.py /tmp/corpus   # rendered there (cached) when missing
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qasr_plugins.audio import load_audio
from qasr_plugins.stage import IdentificationInput
from qasr_plugins.stages.known_speakers import KnownSpeakers, assign
from qasr_plugins.testing.synth.corpus import corpus, render, select
from qasr_plugins.types import Diarization, SpeakerTurns, Turn

CLIP_SECONDS = 10.0


@dataclass(frozen=True)
class Enrolment:
    """One conversation's speaker embeddings (first half) and reference clips (second half), by speaker."""

    speakers: dict[str, np.ndarray]
    clips: dict[str, np.ndarray]


def enrolments(directory: Path, split: str, stage: KnownSpeakers) -> list[Enrolment]:
    found = []
    for rendered in render(select(corpus(), split), directory):
        audio = load_audio(rendered.wav)
        middle = audio.duration / 2
        early = [t for t in rendered.turns if t.span.end <= middle]
        late = [t for t in rendered.turns if t.span.start >= middle and t.span.duration >= 1.0]
        turns = SpeakerTurns(audio.uri, tuple(Turn(t.span, t.speaker) for t in early))
        speakers = stage.speaker_embeddings(IdentificationInput(audio, Diarization(turns)))
        clips = {}
        for speaker in sorted({t.speaker for t in rendered.turns}):
            pieces, total = [], 0.0
            for turn in sorted((t for t in late if t.speaker == speaker), key=lambda t: -t.span.duration):
                if total >= CLIP_SECONDS:
                    break
                pieces.append(audio.crop(turn.span).waveform)
                total += turn.span.duration
            if total >= 2.0:
                clips[speaker] = stage._embed(pieces)
        found.append(Enrolment(speakers, clips))
    return found


def outcome(enrolled: list[Enrolment], threshold: float) -> tuple[int, int, int, int]:
    """(enrolled speakers, named right, unenrolled speakers, false names) over both enrolment plans."""
    total = right = unenrolled = false = 0
    for item in enrolled:
        names = sorted(item.clips)
        speakers = sorted(item.speakers)
        for chosen in (names, names[::2]):
            if not chosen or not speakers:
                continue
            scores = np.stack([item.speakers[s] for s in speakers]) @ np.stack([item.clips[n] for n in chosen]).T
            named = {speakers[row]: chosen[column] for row, column in assign(scores, threshold).items()}
            for speaker in speakers:
                given = named.get(speaker)
                if speaker in chosen:
                    total += 1
                    right += given == speaker
                else:
                    unenrolled += 1
                false += given is not None and given != speaker
    return total, right, unenrolled, false


def main(directory: Path) -> None:
    stage = KnownSpeakers()
    stage.ensure_loaded()
    dev = enrolments(directory, "dev", stage)
    candidates = [round(float(c), 2) for c in np.arange(0.70, 0.991, 0.01)]
    costs = {}
    for candidate in candidates:
        total, right, _, false = outcome(dev, candidate)
        costs[candidate] = (total - right - false) + 2 * false
    best = [c for c in candidates if costs[c] == min(costs.values())]
    threshold = best[len(best) // 2]
    print(f"threshold {threshold}")
    for split, enrolled in (("dev", dev), ("test", enrolments(directory, "test", stage))):
        total, right, unenrolled, false = outcome(enrolled, threshold)
        print(f"{split}: {right}/{total} enrolled speakers named right ({right / total:.1%}); "
              f"{false} false names ({unenrolled} unenrolled speakers)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/tmp/corpus"))
