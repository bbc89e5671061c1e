"""The espeak-ng conversation generator: exact, deterministic references."""

from __future__ import annotations

import itertools

import numpy as np
import soundfile as sf

from qasr_plugins.evaluation.readers import read_rttm, read_stm
from qasr_plugins.testing.synth import CONVERSATIONS, Conversation, Utterance, Voice, synthesize


def test_references_match_the_audio(synth_dir) -> None:
    rendered = synthesize(CONVERSATIONS["two_speakers"], synth_dir / "a")
    audio, rate = sf.read(rendered.wav, dtype="float32")
    assert rate == 16_000 and audio.ndim == 1
    turns = next(iter(read_rttm(rendered.rttm))).turns
    assert len(turns) == len(CONVERSATIONS["two_speakers"].utterances) and rendered.speakers == ("alice", "bob")
    for turn in turns:
        inside = audio[round(turn.span.start * rate):round(turn.span.end * rate)]
        assert np.abs(inside[:160]).max() > 0.01 and np.abs(inside[-160:]).max() > 0.01
    for first, second in itertools.pairwise(turns):  # pauses between turns are silent
        gap = audio[round(first.span.end * rate) + 16:round(second.span.start * rate) - 16]  # RTTM keeps ms
        assert gap.size == 0 or np.abs(gap).max() == 0.0
    words = next(iter(read_stm(rendered.stm))).words
    assert " ".join(w.text for w in words[:3]) == "Good morning, thanks"


def test_rendering_is_deterministic(synth_dir) -> None:
    first = synthesize(CONVERSATIONS["noisy"], synth_dir / "b")
    second = synthesize(CONVERSATIONS["noisy"], synth_dir / "c")
    assert first.wav.read_bytes() == second.wav.read_bytes()
    assert first.rttm.read_text() == second.rttm.read_text()


def test_negative_pause_overlaps_turns(synth_dir) -> None:
    voices = {"a": Voice("en-us+f3", pitch=70), "b": Voice("en-gb+m3", pitch=35)}
    talk = Conversation("talk", voices, (Utterance("a", "One two three four five.", 0.0),
                                         Utterance("b", "Six seven.", -0.5)))
    first, second = synthesize(talk, synth_dir / "d").turns
    assert abs(second.span.start - (first.span.end - 0.5)) < 1e-3
