"""Calibrate ``known_speakers``' threshold on the synthetic corpus: dev voices pick it, test voices check it.

For each conversation, each speaker with enough speech is enrolled from 2-30 s of its own turns taken out of the
recording's second half; its speaker embedding comes from the first half's reference turns. Genuine pairs are a
speaker against its own clip, impostor pairs against every other speaker's. The threshold is the midpoint that
best separates dev pairs (fewest errors, false names counted twice); the report gives both splits' rates.

    python scripts/calibrate_known_speakers.py /tmp/corpus   # rendered there (cached) when missing
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from qasr_plugins.audio import load_audio
from qasr_plugins.stage import IdentificationInput
from qasr_plugins.stages.known_speakers import KnownSpeakers
from qasr_plugins.testing.synth.corpus import corpus, render, select
from qasr_plugins.types import Diarization, SpeakerTurns, Turn


def pairs(directory: Path, split: str, stage: KnownSpeakers) -> tuple[list[float], list[float]]:
    genuine, impostor = [], []
    for rendered in render(select(corpus(), split), directory):
        audio = load_audio(rendered.wav)
        middle = audio.duration / 2
        early = [t for t in rendered.turns if t.span.end <= middle]
        late = [t for t in rendered.turns if t.span.start >= middle and t.span.duration >= 1.0]
        turns = SpeakerTurns(audio.uri, tuple(Turn(t.span, t.speaker) for t in early))
        speakers = stage.speaker_embeddings(IdentificationInput(audio, Diarization(turns)))
        clips = {}
        for speaker in speakers:
            own = sorted((t for t in late if t.speaker == speaker), key=lambda t: -t.span.duration)
            pieces, total = [], 0.0
            for turn in own:
                if total >= 10.0:
                    break
                pieces.append(stage._partials(audio.crop(turn.span).waveform))
                total += turn.span.duration
            if total >= 2.0:
                clips[speaker] = stage._mean(pieces)
        for speaker, embedding in speakers.items():
            for name, clip in clips.items():
                (genuine if name == speaker else impostor).append(float(embedding @ clip))
    return genuine, impostor


def main(directory: Path) -> None:
    stage = KnownSpeakers()
    stage.ensure_loaded()
    dev = pairs(directory, "dev", stage)
    candidates = np.linspace(0.5, 0.99, 99)
    cost = [sum(g < c for g in dev[0]) + 2 * sum(i >= c for i in dev[1]) for c in candidates]
    best = [c for c, k in zip(candidates, cost, strict=True) if k == min(cost)]
    threshold = round(float(np.mean(best)), 2)
    print(f"threshold {threshold}")
    for split, (genuine, impostor) in (("dev", dev), ("test", pairs(directory, "test", stage))):
        print(f"{split}: genuine {len(genuine)} accepted {np.mean(np.array(genuine) >= threshold):.3f} "
              f"(min {min(genuine):.3f}); impostor {len(impostor)} accepted "
              f"{np.mean(np.array(impostor) >= threshold):.3f} (max {max(impostor):.3f})")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/tmp/corpus"))
