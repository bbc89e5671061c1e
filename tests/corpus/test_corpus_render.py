"""The rendered corpus: references that match the audio, channels that do what they say, a cache that is reused
only for the same script, and long recordings that are long."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from qasr_plugins.evaluation.readers import read_rttm
from qasr_plugins.testing.synth import Conversation, Utterance, Voice, overlap_ratio, render
from qasr_plugins.testing.synth.corpus import OVERLAP_BUCKETS, SPLITS, corpus, overlap_bucket, select
from qasr_plugins.testing.synth.corpus import render as render_corpus

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("sox") is None,
                                reason="needs espeak-ng and sox")

_VOICES = {"a": Voice("en-us+f2", pitch=65), "b": Voice("en-gb+m4", pitch=35)}
_TALK = (Utterance("a", "The delivery trucks were late again this morning.", 0.0),
         Utterance("b", "Then we should call the driver before lunch.", 0.8))


def _energy(samples: np.ndarray, rate: int, spans) -> tuple[float, float]:
    """Mean power inside ``spans`` and outside them (0.6 s after each end excluded, for reverberation tails)."""
    inside = np.zeros(len(samples), dtype=bool)
    tail = np.zeros(len(samples), dtype=bool)
    for span in spans:
        inside[round(span.start * rate):round(span.end * rate)] = True
        tail[round(span.end * rate):round((span.end + 0.6) * rate)] = True
    outside = ~inside & ~tail
    return float(np.mean(samples[inside] ** 2)), float(np.mean(samples[outside] ** 2))


def test_a_cached_render_is_reused_for_the_same_script_only(tmp_path: Path, monkeypatch) -> None:
    talk = Conversation("talk", _VOICES, _TALK)
    first = render.synthesize(talk, tmp_path)
    calls: list[str] = []
    real_mix = render._mix
    monkeypatch.setattr(render, "_mix", lambda c: (calls.append(c.name), real_mix(c))[1])
    again = render.synthesize(talk, tmp_path)
    assert calls == [] and again.turns == first.turns
    noisy = Conversation("talk", _VOICES, _TALK, noise_snr_db=10.0)
    render.synthesize(noisy, tmp_path)
    assert calls == ["talk"] and sf.read(first.wav)[0][:8000].std() > 0  # rendered again, with noise now
    render.synthesize(noisy, tmp_path, cache=False)
    assert calls == ["talk", "talk"]


def test_telephone_band_removes_high_frequencies_and_reverb_leaves_a_tail(tmp_path: Path) -> None:
    dry = render.synthesize(Conversation("dry", _VOICES, _TALK), tmp_path)
    phone = render.synthesize(Conversation("phone", _VOICES, _TALK, telephone=True), tmp_path)
    room = render.synthesize(Conversation("room", _VOICES, _TALK, reverberance=80), tmp_path)
    assert dry.turns == phone.turns == room.turns

    def high_share(path: Path) -> float:
        samples, rate = sf.read(path, dtype="float32")
        power = np.abs(np.fft.rfft(samples)) ** 2
        frequency = np.fft.rfftfreq(len(samples), 1 / rate)
        return float(power[frequency > 3800].sum() / power.sum())

    assert high_share(dry.wav) > 0.01 and high_share(phone.wav) < 0.1 * high_share(dry.wav)
    end = dry.turns[0].span.end
    after = slice(round((end + 0.02) * 16_000), round((end + 0.3) * 16_000))
    assert np.abs(sf.read(dry.wav)[0][after]).max() == 0.0
    assert np.abs(sf.read(room.wav)[0][after]).max() > 0.003


def test_noise_colours_differ_in_their_low_frequencies() -> None:
    def low_share(colour: str) -> float:
        noise = render.coloured_noise(colour, 16_000, np.random.default_rng(0))
        power = np.abs(np.fft.rfft(noise)) ** 2
        assert abs(float(np.mean(noise ** 2)) - 1.0) < 1e-3
        return float(power[:500].sum() / power.sum())  # below 500 Hz

    assert low_share("white") < low_share("pink") < low_share("brown")
    with pytest.raises(ValueError, match="colour"):
        render.coloured_noise("purple", 10, np.random.default_rng(0))


def test_overlap_ratio_of_turns(tmp_path: Path) -> None:
    talk = Conversation("overlapped", _VOICES, (_TALK[0], Utterance("b", "Yes.", 0.0, interject=0.5)))
    turns = render.synthesize(talk, tmp_path).turns
    assert turns[1].span.start > turns[0].span.start and turns[1].span.end < turns[0].span.end
    assert overlap_ratio(turns) == pytest.approx(turns[1].span.duration / turns[0].span.duration, abs=1e-3)
    assert overlap_ratio(render.synthesize(Conversation("apart", _VOICES, _TALK), tmp_path).turns) == 0.0


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory):
    entries = select(corpus(), "all")
    return entries, render_corpus(entries, tmp_path_factory.mktemp("corpus"))


@pytest.mark.slow
def test_references_match_the_rendered_speech(rendered) -> None:
    entries, files = rendered
    for entry, file in zip(entries, files, strict=True):
        samples, rate = sf.read(file.wav, dtype="float32")
        assert rate == 16_000 and samples.ndim == 1 and np.abs(samples).max() <= 0.951  # 0.95 peak, 16-bit
        reference = next(iter(read_rttm(file.rttm)))
        assert [(round(t.span.start, 3), t.speaker) for t in reference.turns] == \
            sorted((round(t.span.start, 3), t.speaker) for t in file.turns)
        assert len({t.speaker for t in file.turns}) == entry.conditions.speakers
        assert file.turns[-1].span.end <= len(samples) / rate
        inside, outside = _energy(samples, rate, [t.span for t in file.turns])
        snr_db = entry.conversation.noise_snr_db
        # with noise, the spans hold speech + noise and the rest noise alone: (1 + SNR) times the power at best
        expected = 20.0 if snr_db is None else min(20.0, 0.5 * (1 + 10 ** (snr_db / 10)))
        assert inside > expected * outside, (entry.name, snr_db, inside / outside)


@pytest.mark.slow
def test_rendered_overlap_is_the_planned_one(rendered) -> None:
    entries, files = rendered
    measured = {e.name: overlap_bucket(overlap_ratio(f.turns)) for e, f in zip(entries, files, strict=True)}
    for split in SPLITS:
        assert {measured[e.name] for e in entries if e.split == split} == set(OVERLAP_BUCKETS)
    matching = sum(measured[e.name] == e.conditions.overlap for e in entries)
    assert matching >= 0.9 * len(entries)
    assert max(overlap_ratio(f.turns) for f in files) <= 0.25


@pytest.mark.slow
def test_rendering_the_corpus_is_deterministic(rendered, tmp_path: Path) -> None:
    entries, files = rendered
    picked = [i for i, e in enumerate(entries) if e.conditions.channel == "reverb+telephone"
              and e.conversation.noise_snr_db is not None][:2]
    for i in picked:
        again = render.synthesize(entries[i].conversation, tmp_path)
        assert again.wav.read_bytes() == files[i].wav.read_bytes()
        assert again.rttm.read_text() == files[i].rttm.read_text() and again.stm.read_text() == files[i].stm.read_text()


@pytest.mark.slow
def test_long_recordings_last_thirty_minutes() -> None:
    for entry in select(corpus(), "all", ("long",)):  # speech rendered, not mixed: the length without sox
        assert 30 * 60 <= render.rendered_seconds(entry.conversation) <= 1.15 * entry.planned_duration, entry.name


def test_rendered_seconds_is_the_length_of_the_file(tmp_path: Path) -> None:
    talk = Conversation("talk", _VOICES, _TALK, telephone=True, noise_snr_db=5.0)
    assert render.synthesize(talk, tmp_path).duration == render.rendered_seconds(talk)
