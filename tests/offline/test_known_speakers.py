"""``known_speakers`` on real voices: enrolled speakers are named after clips cut from other parts of the same
recordings, unenrolled ones keep their labels, voices from elsewhere take no name, and the writers write the
names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from qasr_plugins import Pipeline
from qasr_plugins.cli import app
from qasr_plugins.evaluation.readers import read_rttm
from qasr_plugins.testing.synth import CONVERSATIONS, synthesize
from qasr_plugins.timeline import SpeakerTurns
from qasr_plugins.types import Span


def _majority(hypothesis: SpeakerTurns, span: Span) -> str:
    """The hypothesis label covering most of ``span``."""
    covered: dict[str, float] = {}
    for turn in hypothesis.turns:
        overlap = min(turn.span.end, span.end) - max(turn.span.start, span.start)
        if overlap > 0:
            covered[turn.speaker] = covered.get(turn.speaker, 0.0) + overlap
    return max(covered, key=lambda s: covered[s]) if covered else ""


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory):
    rendered = synthesize(CONVERSATIONS["three_speakers"], tmp_path_factory.mktemp("synth"))
    samples, rate = sf.read(rendered.wav, dtype="float32")
    return rendered, samples, rate


def test_enrolled_speakers_are_named_and_the_other_keeps_its_label(three) -> None:
    rendered, samples, rate = three
    first = 20.0  # identified: the first 20 s; enrolled: each speaker's last turn, after that

    def last_turn(speaker: str):
        turn = [t for t in rendered.turns if t.speaker == speaker][-1]
        assert turn.span.start >= first and turn.span.duration >= 2.0
        return samples[round(turn.span.start * rate):round(turn.span.end * rate)], rate

    pipeline = Pipeline.from_config("offline", ["stages.diar.num_speakers=3"], cache=False,
                                    known_speakers={"Alice": last_turn("alice"), "Dave": last_turn("dave")})
    document = pipeline((samples[:round(first * rate)], rate), uri="three_speakers_start")
    turns = document.diarization.best
    expected = {"alice": "Alice", "dave": "Dave"}
    for turn in (t for t in rendered.turns if t.span.end <= first):
        label = _majority(turns, turn.span)
        if turn.speaker in expected:
            assert label == expected[turn.speaker], (turn, label)
        else:  # bob was not enrolled
            assert label and label not in ("Alice", "Dave"), (turn, label)
    rttm = pipeline.render(document)["rttm"]
    assert " Alice " in rttm and " Dave " in rttm
    assert {s.speaker for s in document.transcript.segments} >= {"Alice", "Dave"}


def test_voices_from_another_recording_take_no_name(three, tmp_path: Path) -> None:
    _, samples, rate = three
    other = synthesize(CONVERSATIONS["overlap"], tmp_path)  # carol's voice is in no turn of three_speakers
    other_samples, _ = sf.read(other.wav, dtype="float32")
    carol = next(t for t in other.turns if t.speaker == "carol" and t.span.duration >= 3.0)
    clip = other_samples[round(carol.span.start * rate):round(carol.span.end * rate)]
    pipeline = Pipeline.from_config("offline", ["stages.diar.num_speakers=3"], cache=False,
                                    known_speakers={"Carol": (clip, rate)})
    document = pipeline((samples, rate), uri="three_speakers")
    assert "Carol" not in document.diarization.best.speakers


def test_qasr_run_writes_the_enrolled_names(sample_wav: Path, sample_rttm: Path, tmp_path: Path) -> None:
    samples, rate = sf.read(sample_wav, dtype="float32")
    clips = {"agent": (10.7, 14.4), "customer": (22.0, 27.8)}  # speaker90 and speaker91 alone, by sample.rttm
    options = []
    for name, (start, end) in clips.items():
        path = tmp_path / f"{name}.wav"
        sf.write(path, samples[round(start * rate):round(end * rate)], rate)
        options += ["--known-speaker", f"{name}={path}"]
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", "offline", str(sample_wav), "-o", str(out), "-f", "rttm,srt",
                                      "--no-cache", *options])
    assert result.exit_code == 0, result.output
    written = next(iter(read_rttm(out / "sample.rttm")))
    hypothesis = SpeakerTurns(written.uri, written.turns)
    assert set(hypothesis.speakers) == {"agent", "customer"}
    reference = next(iter(read_rttm(sample_rttm)))
    who = {"speaker90": "agent", "speaker91": "customer"}
    named = [_majority(hypothesis, t.span) == who[t.speaker] for t in reference.turns if t.span.duration >= 1.0]
    assert np.mean(named) >= 0.8, named
    srt = (out / "sample.srt").read_text(encoding="utf-8")
    assert "agent" in srt and "customer" in srt


@pytest.mark.parametrize("content", ["silence", "noise"])
def test_a_reference_without_speech_stops_the_run_naming_it(sample_wav: Path, tmp_path: Path, content: str) -> None:
    samples = np.zeros(16_000 * 4, dtype=np.float32) if content == "silence" else \
        (np.random.default_rng(0).standard_normal(16_000 * 4) * 0.01).astype(np.float32)
    clip = tmp_path / "empty.wav"
    sf.write(clip, samples, 16_000)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", "offline", str(sample_wav), "-o", str(out), "--no-cache",
                                      "--known-speaker", f"Ann={clip}"])
    assert result.exit_code == 2, result.output
    assert "[S418] stages.speakers.references.Ann" in result.output and "Traceback" not in result.output
    assert not (out / "sample.json").exists()
