from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qasr_plugins.alignment.transcripts import read_transcript
from qasr_plugins.cli import app
from qasr_plugins.errors import InputError
from qasr_plugins.types import Span

SRT = """1
00:00:01,000 --> 00:00:04,500
Hello, <i>world</i>!

2
00:00:05,000 --> 00:00:09,250
It's 2025.
"""


def test_text_sources(tmp_path: Path):
    plain = read_transcript("Hello,   world!\n", uri="a", duration=10.0, language="en")
    assert [(s.span, s.text, s.language) for s in plain.segments] == [(Span(0, 10), "Hello, world!", "en")]
    (tmp_path / "a.srt").write_text(SRT, encoding="utf-8")
    srt = read_transcript(str(tmp_path / "a.srt"), uri="a", duration=8.0, language="en")
    assert [(s.span, s.text) for s in srt.segments] == [(Span(1, 4.5), "Hello, world!"), (Span(5, 8), "It's 2025.")]
    (tmp_path / "a.json").write_text(json.dumps({"uri": "other", "segments": [
        {"start": 1, "end": 2, "text": "hi", "language": "fr"}]}), encoding="utf-8")
    loaded = read_transcript(str(tmp_path / "a.json"), uri="a", duration=8.0, language="en")
    assert loaded.uri == "a" and loaded.segments[0].language == "fr"
    (tmp_path / "bad.json").write_text("{}", encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_transcript(str(tmp_path / "bad.json"), uri="a", duration=8.0)
    assert info.value.code == "I310"


def test_qasr_align_writes_word_timed_outputs(sample_wav: Path, tiny_aligner: Path, tmp_path: Path):
    (tmp_path / "text.srt").write_text(SRT, encoding="utf-8")
    result = CliRunner().invoke(app, ["align", str(sample_wav), str(tmp_path / "text.srt"),
                                      f"model={tiny_aligner}", "-l", "en", "-o", str(tmp_path / "out"),
                                      "-f", "json,ctm"])
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "out" / "sample.json").read_text(encoding="utf-8"))
    segments = document["transcript"]["segments"]
    assert [w["text"] for s in segments for w in s["words"]] == ["Hello,", "world!", "It's", "2025."]
    for segment in segments:
        for word in segment["words"]:
            assert segment["start"] - 0.01 <= word["start"] <= word["end"] <= segment["end"] + 0.01
    assert document["provenance"][0]["name"] == "qwen3.forced_aligner"
    assert len((tmp_path / "out" / "sample.ctm").read_text(encoding="utf-8").splitlines()) == 4


def test_qasr_align_reports_coded_errors(sample_wav: Path, tmp_path: Path):
    result = CliRunner().invoke(app, ["align", str(sample_wav), "text", "--aligner", "ctcc", "-o", str(tmp_path)])
    assert result.exit_code == 2 and "[C100]" in result.output and "'ctc'" in result.output
    text = tmp_path / "text.txt"
    text.write_text("hello world")
    result = CliRunner().invoke(app, ["align", str(sample_wav), str(text), "-o", str(tmp_path)])  # no -l
    assert result.exit_code == 2 and "[C108]" in result.output and "-l en" in result.output
