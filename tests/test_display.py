"""Rich display: HTML tables and reprs of results (escaped), and matplotlib pictures (Agg backend)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qasr_plugins.document import AudioInfo, ResultDocument
from qasr_plugins.rich import speaker_colours
from qasr_plugins.testing import dummy_audio
from qasr_plugins.timeline import Diarization, Span, SpeakerTurns, SpeechRegions, Turn
from qasr_plugins.types import StageRecord, Transcript, TranscriptSegment, Word


@pytest.fixture(autouse=True)
def _no_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Draw with Agg (no window) in this process only: the notebook tests' kernels keep their inline backend."""
    monkeypatch.setenv("MPLBACKEND", "Agg")

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def _document(path: str | None = None) -> ResultDocument:
    words_a = (Word("hello", Span(1.0, 1.4), "alice"), Word(HOSTILE, Span(1.5, 1.9), "alice"))
    words_b = (Word("bonjour", Span(3.0, 3.5), "bob"), Word("&amp;", Span(3.6, 3.8), "bob"))
    segments = (TranscriptSegment(Span(1.0, 1.9), "hello " + HOSTILE, "en", speaker="alice", words=words_a),
                TranscriptSegment(Span(3.0, 3.8), "bonjour &amp;", "fr", speaker="bob", words=words_b))
    regular = SpeakerTurns("doc", (Turn(Span(0.9, 2.0), "alice"), Turn(Span(1.8, 4.0), "bob")))
    exclusive = SpeakerTurns("doc", (Turn(Span(0.9, 1.9), "alice"), Turn(Span(1.9, 4.0), "bob")), exclusive=True)
    return ResultDocument("doc", AudioInfo(path, 5.0), SpeechRegions("doc", (Span(0.9, 4.0),)),
                          Diarization(regular, exclusive), Transcript("doc", segments),
                          (StageRecord("vad", "vad", "energy.vad", wall_time=0.25),
                           StageRecord("asr", "asr", "x.asr", wall_time=1.5)), pipeline="test")


def test_html_shows_speakers_languages_and_words_escaped() -> None:
    document = _document()
    html = document._repr_html_()
    assert "alice" in html and "bob" in html and ">fr<" in html and "hello" in html
    assert "<script>" not in html and "<img" not in html and "&lt;script&gt;" in html
    assert "&amp;amp;" in html  # text that looks like an entity is shown as typed
    colours = speaker_colours(["bob", "alice"])
    assert colours["alice"] != colours["bob"] and colours["alice"] in html and colours["bob"] in html
    assert "vad 0.25 s" in html and "asr 1.50 s" in html
    words = document.show(words=True)._repr_html_()
    assert words.count('class="qasr-word"') == 4 and "1.50–1.90 s, alice" in words and "<script>" not in words
    assert "bonjour" in document.transcript._repr_html_() and "<img" not in document.transcript.show(words=True).html


def test_reprs_are_short_and_readable() -> None:
    document = _document()
    text = repr(document)
    assert text.splitlines()[0] == ("ResultDocument(doc: 5.0 s, 1 speech regions, 2 turns of 2 speakers (alice, bob), "
                                    "2 segments, 4 words (en, fr))")
    assert "[0:01.00–0:01.90] alice (en): hello" in text and repr(document.show()) == text
    assert repr(document.transcript).startswith("Transcript('doc', 2 segments)\n  [0:01.00")
    assert document.timings == {"vad": 0.25, "asr": 1.5}


def test_plot_timeline_renders_every_row_and_both_speakers(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    import soundfile as sf

    from qasr_plugins.display import plot_timeline

    wav = tmp_path / "doc.wav"
    sf.write(wav, dummy_audio(5.0, [(0.9, 4.0)]).waveform, 16000)
    figure = plot_timeline(_document(str(wav)))
    assert [ax.get_ylabel() for ax in figure.axes] == ["waveform", "speech", "turns", "exclusive", "words"]
    assert figure.axes[0].get_title(loc="left") == "doc (test)"
    assert [t.get_text() for t in figure.axes[2].get_yticklabels()] == ["alice", "bob"]
    assert [t.get_text() for t in figure.legends[0].get_texts()] == ["alice", "bob"]
    assert HOSTILE in [t.get_text() for t in figure.axes[4].texts]
    png = tmp_path / "timeline.png"
    figure.savefig(png, dpi=50)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5_000
    cropped = plot_timeline(_document(), start=1.0, end=2.0, words=False)  # no readable audio: no waveform row
    assert [ax.get_ylabel() for ax in cropped.axes] == ["speech", "turns", "exclusive"]
    assert cropped.axes[-1].get_xlim() == (1.0, 2.0)
    with pytest.raises(ValueError, match="after start"):
        plot_timeline(_document(), start=3, end=2)


def test_plot_comparison_and_alignment(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from dataclasses import replace

    from qasr_plugins.display import plot_alignment, plot_comparison

    a, b = _document(), replace(_document(), transcript=None, pipeline="other")
    figure = plot_comparison(a, b)
    assert [ax.get_ylabel() for ax in figure.axes] == ["test\nturns", "test\nwords", "other\nturns"]
    audio = dummy_audio(5.0, [(0.9, 4.0)], uri="doc")
    aligned = plot_alignment(a, (audio.waveform, 16000), start=0.5, end=4.5)
    assert aligned.axes[0].get_ylabel() == "frequency (Hz)" and aligned.axes[0].images
    assert {"hello", "bonjour"} <= {t.get_text() for t in aligned.axes[0].texts}
    aligned.savefig(tmp_path / "aligned.png", dpi=40)
    with pytest.raises(ValueError, match="no audio"):
        plot_alignment(a)


def test_waveform_envelope_keeps_the_peaks() -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    from qasr_plugins.display.plots import draw_waveform
    from qasr_plugins.types import Audio

    wave = np.zeros(16000 * 3, dtype=np.float32)
    wave[20_000] = 0.9
    ax = Figure().subplots()
    draw_waveform(ax, Audio("x", wave), 0.0, 3.0)
    assert ax.get_ylim()[1] >= 0.9


def test_matplotlib_is_not_imported_by_the_core_or_the_light_commands() -> None:
    probe = ("import json, sys, qasr_plugins, qasr_plugins.api, qasr_plugins.document\n"
             "from typer.testing import CliRunner\nfrom qasr_plugins.cli import app\n"
             "from qasr_plugins.testing import dummy_document\n"
             "runner = CliRunner()\n"
             "codes = [runner.invoke(app, a).exit_code for a in (['plugins'], ['validate', 'offline'])]\n"
             "dummy_document()._repr_html_()\n"
             "qasr_plugins.api.Pipeline.from_config('vad')._repr_html_()\n"
             "print(json.dumps([codes, sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib')]))\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    codes, loaded = json.loads(result.stdout.splitlines()[-1])
    assert codes == [0, 0] and loaded == []
