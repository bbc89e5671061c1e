"""The test kit plugin authors import: dummies, in-process registration, the documented example."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from qasr_plugins import Pipeline, registry
from qasr_plugins.errors import PluginError
from qasr_plugins.stage import VadInput, VadStage
from qasr_plugins.stages.energy_vad import EnergyVad
from qasr_plugins.testing import dummy_audio, dummy_document, dummy_transcript, dummy_turns, register_stage
from qasr_plugins.types import SpeechRegions

DOCS = Path(__file__).parents[1] / "docs" / "plugins.md"


class WholeVad(VadStage):
    """Speech everywhere."""

    def process(self, batch: Sequence[VadInput]) -> list[SpeechRegions]:
        return [SpeechRegions(item.audio.uri, (item.audio.span,)) for item in batch]


def test_dummy_audio_is_deterministic_and_loud_only_where_speech_is() -> None:
    audio = dummy_audio(4.0, [(1.0, 2.0)], offset=10.0, seed=3)
    assert audio.duration == 4.0 and audio.offset == 10.0 and audio.waveform.dtype == np.float32
    assert np.array_equal(audio.waveform, dummy_audio(4.0, [(1.0, 2.0)], offset=10.0, seed=3).waveform)
    rms = [float(np.sqrt(np.mean(audio.waveform[i * 8000:(i + 1) * 8000] ** 2))) for i in range(8)]
    assert min(rms[2:4]) > 50 * max(rms[:2] + rms[4:])


def test_speakers_get_different_pitches() -> None:
    turns = dummy_turns([("A", 0.0, 1.0), ("B", 1.0, 2.0)])
    wave = dummy_audio(2.0, turns.turns, noise=0.0).waveform

    def pitch(part: np.ndarray) -> float:
        spectrum = np.abs(np.fft.rfft(part))
        return float(np.argmax(spectrum) * 16_000 / len(part))

    assert pitch(wave[:16_000]) == pytest.approx(120.0, abs=2) and pitch(wave[16_000:]) == pytest.approx(210.0, abs=2)


def test_dummy_transcript_words_times_speakers_and_characters() -> None:
    transcript = dummy_transcript(["hello world", "你好，世界"], spans=[(1.0, 2.0), (3.0, 5.0)], offset=100.0,
                                  timed=True, speakers=["A", "B"], unit="char")
    first, second = transcript.segments
    assert [w.text for w in second.words] == ["你", "好", "世", "界"] and second.speaker == "B"
    assert second.words[0].span.start == 103.0 and second.words[-1].span.end == 105.0
    assert all(w.speaker == "A" and w.unit == "char" for w in first.words)
    assert [w.span for w in dummy_transcript().words()] == [None, None]


def test_dummy_document_parts_agree() -> None:
    document = dummy_document()
    spans = [s.span for s in document.transcript.segments]
    assert list(document.speech.regions) == spans == [t.span for t in document.diarization.turns.turns]
    assert dummy_document(speakers=None).diarization is None
    assert dummy_document([]).transcript.segments == ()


def test_register_stage_is_visible_to_the_registry_and_undone_on_exit() -> None:
    with register_stage("vad", "whole.vad", WholeVad) as entry:
        assert entry.distribution == registry.IN_PROCESS == "<in-process>"
        assert entry in registry.entries("vad") and registry.find("vad", "whole.vad") == entry
        assert registry.load("vad", "whole.vad") is WholeVad and registry.status(entry) == "ok"
    assert "whole.vad" not in {e.name for e in registry.entries("vad")}
    with pytest.raises(PluginError) as caught:
        registry.load("vad", "whole.vad")
    assert caught.value.code == "P203"


def test_pipeline_validation_finds_an_in_process_stage(tmp_path: Path) -> None:
    config = tmp_path / "whole.yaml"
    config.write_text("stages: {vad: {name: whole.vad}}\ngraph: {vad: {kind: vad}}\noutputs: {formats: [json]}\n")
    with register_stage("vad", "whole.vad", WholeVad):
        document = Pipeline.from_config(config)(dummy_audio(2.0))
    assert document.speech.regions[0].duration == 2.0
    assert document.provenance[0].distribution == "<in-process>"


def test_register_stage_refuses_to_shadow_an_installed_name_unless_asked() -> None:
    with pytest.raises(PluginError) as caught, register_stage("vad", "energy.vad", WholeVad):
        pass
    assert caught.value.code == "P202" and "qasr-plugins" in caught.value.message
    with register_stage("vad", "energy.vad", WholeVad, replace=True):
        assert registry.load("vad", "energy.vad") is WholeVad
        assert [e.distribution for e in registry.entries("vad") if e.name == "energy.vad"] == ["<in-process>"]
        with register_stage("vad", "energy.vad", EnergyVad, replace=True):
            assert registry.load("vad", "energy.vad") is EnergyVad
        assert registry.load("vad", "energy.vad") is WholeVad
    assert registry.find("vad", "energy.vad").distribution == "qasr-plugins"
    assert registry.load("vad", "energy.vad") is EnergyVad


def test_register_stage_checks_kind_and_class() -> None:
    with pytest.raises(PluginError) as caught, register_stage("asr", "whole.asr", WholeVad):
        pass
    assert caught.value.code == "P204"
    with pytest.raises(PluginError) as caught, register_stage("vda", "whole.vad", WholeVad):
        pass
    assert caught.value.code == "P205"


def test_the_documented_example_runs(tmp_path: Path) -> None:
    """Every ``python`` block of docs/plugins.md that starts with ``# <path>`` is written there; the test file
    among them then passes under pytest."""
    blocks = re.findall(r"```python\n# (\S+)[^\n]*\n(.*?)```", DOCS.read_text(encoding="utf-8"), flags=re.DOTALL)
    paths = [tmp_path / name for name, _ in blocks]
    for path, (_, code) in zip(paths, blocks, strict=True):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code, encoding="utf-8")
    tests = [p for p in paths if p.name.startswith("test_")]
    assert tests, "docs/plugins.md shows no test file"
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *map(str, tests)],
                            check=False, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b1[0-9] passed", result.stdout), result.stdout  # both contract suites and the pipeline test
