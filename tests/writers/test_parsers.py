"""Writer output read back by independent parsers: srt, webvtt-py, pyannote's RTTM loader, praatio, json/csv."""

from __future__ import annotations

import csv
import html
import io
import json
from pathlib import Path

import pytest

from qasr_plugins.adapters.nemo.ctm import CtmWriter
from qasr_plugins.adapters.nemo.manifest import ManifestWriter
from qasr_plugins.adapters.whisper.whisperx import WhisperxWriter
from qasr_plugins.document import ResultDocument
from qasr_plugins.errors import OutputError
from qasr_plugins.types import Span, Transcript, TranscriptSegment, Word
from qasr_plugins.writers.rttm import RttmWriter
from qasr_plugins.writers.subtitles import SrtWriter, VttWriter
from qasr_plugins.writers.text import TsvWriter, TxtWriter
from qasr_plugins.writers.textgrid import TextGridWriter


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_srt_parses_with_srt_and_webvtt(document: ResultDocument, tmp_path: Path) -> None:
    import srt
    import webvtt

    text = SrtWriter().render(document)
    subs = list(srt.parse(text))
    assert [s.content.split(": ", 1)[0] for s in subs] == ["SPEAKER_00", "SPEAKER_00", "說話人 1", "SPEAKER_00"]
    assert subs[2].content.endswith("你好，世界。")
    assert subs[0].start.total_seconds() == 0.5 and subs[0].end.total_seconds() == 2.4
    captions = webvtt.from_srt(str(_write(tmp_path, "talk.srt", text)))
    assert len(captions) == 4 and "Bob & ‹Alice› --› fine?" in captions[0].text


def test_vtt_is_spec_valid_and_escaped(document: ResultDocument) -> None:
    import webvtt

    text = VttWriter().render(document)
    captions = webvtt.from_string(text, strict=True)
    assert [c.voice for c in captions] == ["SPEAKER_00", "SPEAKER_00", "說話人 1", "SPEAKER_00"]
    assert html.unescape(captions[0].text) == "Hello, Bob & <Alice> --> fine?"
    assert "-->" not in text.split("\n")[3]  # cue text never contains the timing arrow
    assert captions[2].text == "你好，世界。"


def test_vtt_word_highlighting_uses_increasing_timestamp_tags(document: ResultDocument) -> None:
    import webvtt

    text = VttWriter(highlight_words=True, speaker_labels=False).render(document)
    first = next(iter(webvtt.from_string(text)))
    assert first.raw_text.startswith("Hello, <00:00:01.000>Bob <00:00:01.300>&amp;")
    import re

    tags = re.findall(r"<(\d\d:\d\d:\d\d\.\d{3})>", first.raw_text)
    assert tags == sorted(tags) and first.start < tags[0] and tags[-1] < first.end


def test_cue_limits_are_respected() -> None:
    words = tuple(Word(f"word{i}", Span(i * 0.5, i * 0.5 + 0.4), "A") for i in range(40))
    segment = TranscriptSegment(Span(0, 20), " ".join(w.text for w in words), speaker="A", words=words)
    document = ResultDocument("u", _audio(), transcript=Transcript("u", (segment,)))
    import srt

    subs = list(srt.parse(SrtWriter(max_chars_per_line=20, max_lines=2, max_duration=3.0,
                                    speaker_labels=False).render(document)))
    assert all(len(line) <= 20 for s in subs for line in s.content.split("\n"))
    assert all(len(s.content.split("\n")) <= 2 for s in subs)
    assert all((s.end - s.start).total_seconds() <= 3.0 for s in subs)
    assert " ".join(s.content.replace("\n", " ") for s in subs) == segment.text


def test_cjk_lines_are_measured_in_display_cells() -> None:
    from qasr_plugins.writers._cues import display_width

    assert display_width("abc") == 3 and display_width("你好") == 4 and display_width("안녕") == 4
    assert display_width("カナ、！") == 8 and display_width("e\u0301") == 1  # full-width punctuation; a combining accent
    text = "今天我们讨论一下下个季度的计划和预算安排然后再决定谁负责哪一部分工作"
    words = tuple(Word(c, Span(i * 0.2, i * 0.2 + 0.15), "A") for i, c in enumerate(text))
    segment = TranscriptSegment(Span(0, len(text) * 0.2), text, language="zh", speaker="A", words=words)
    document = ResultDocument("u", _audio(), transcript=Transcript("u", (segment,)))
    import srt

    subs = list(srt.parse(SrtWriter(max_chars_per_line=20, max_lines=2, max_duration=60.0,
                                    speaker_labels=False).render(document)))
    lines = [line for s in subs for line in s.content.split("\n")]
    assert all(len(line) <= 10 for line in lines) and max(len(line) for line in lines) == 10
    assert "".join(lines) == text


def test_cues_split_at_pauses() -> None:
    words = (Word("one", Span(0, 0.4), "A"), Word("two", Span(2.0, 2.4), "A"))
    document = ResultDocument("u", _audio(), transcript=Transcript("u", (
        TranscriptSegment(Span(0, 2.4), "one two", speaker="A", words=words),)))
    import srt

    assert len(list(srt.parse(SrtWriter(pause=1.0).render(document)))) == 2
    assert len(list(srt.parse(SrtWriter(pause=None).render(document)))) == 1


def test_rttm_loads_with_pyannote(document: ResultDocument, tmp_path: Path) -> None:
    from pyannote.database.util import load_rttm

    annotation = load_rttm(str(_write(tmp_path, "talk.rttm", RttmWriter().render(document))))["talk"]
    assert sorted(annotation.labels()) == ["SPEAKER_00", "說話人_1"]
    assert annotation.label_duration("SPEAKER_00") == pytest.approx(4.8)


def test_rttm_from_attributed_words_without_diarization(document: ResultDocument, tmp_path: Path) -> None:
    from dataclasses import replace

    from pyannote.database.util import load_rttm

    text = RttmWriter(merge_gap=0.5).render(replace(document, diarization=None))
    annotation = load_rttm(str(_write(tmp_path, "talk.rttm", text)))["talk"]
    turns = [(round(s.start, 3), round(s.end, 3), label) for s, _, label in annotation.itertracks(yield_label=True)]
    assert turns == [(0.5, 3.2, "SPEAKER_00"), (3.0, 4.9, "說話人_1"), (6.0, 8.0, "SPEAKER_00")]


def test_rttm_without_speakers_is_a_coded_error(document: ResultDocument) -> None:
    from dataclasses import replace

    with pytest.raises(OutputError) as info:
        RttmWriter().render(replace(document, diarization=None, transcript=None))
    assert info.value.code == "O503"


def test_ctm_fields(document: ResultDocument) -> None:
    rows = [line.split() for line in CtmWriter(extended=True).render(document).splitlines()]
    assert all(len(r) == 8 for r in rows)
    assert rows[0] == ["talk", "1", "0.50", "0.40", "Hello", "0.900", "lex", "SPEAKER_00"]
    assert rows[-1][4:] == ["界", "NA", "lex", "說話人_1"]
    assert [r[4] for r in rows][:3] == ["Hello", "Bob", "&"]


def test_textgrid_reads_back_with_praatio(document: ResultDocument, tmp_path: Path) -> None:
    from praatio import textgrid

    grid = textgrid.openTextgrid(str(_write(tmp_path, "talk.TextGrid", TextGridWriter().render(document))),
                                 includeEmptyIntervals=False)
    assert grid.tierNames == ("SPEAKER_00 - words", "SPEAKER_00 - segments", "說話人 1 - words",
                              "說話人 1 - segments")
    assert [e.label for e in grid.getTier("說話人 1 - words").entries] == list("你好世界")
    assert grid.getTier("SPEAKER_00 - segments").entries[0].label == "Hello, Bob & <Alice> --> fine? Yes."
    assert grid.maxTimestamp == 9.0


def test_textgrid_drops_zero_length_and_clips_overlapping_words(tmp_path: Path) -> None:
    from praatio import textgrid

    words = (Word("a", Span(0, 1), "A"), Word("b", Span(0.8, 1.5), "A"), Word("c", Span(2, 2), "A"))
    document = ResultDocument("u", _audio(), transcript=Transcript("u", (
        TranscriptSegment(Span(0, 2), "a b c", speaker="A", words=words),)))
    grid = textgrid.openTextgrid(str(_write(tmp_path, "u.TextGrid", TextGridWriter().render(document))), False)
    assert [(e.start, e.end, e.label) for e in grid.getTier("A - words").entries] == [(0, 1, "a"), (1, 1.5, "b")]


def test_txt_tsv_manifest_whisperx(document: ResultDocument) -> None:
    txt = TxtWriter(timestamps=True).render(document)
    assert txt.splitlines()[0].startswith("[00:00:00.500] SPEAKER_00: Hello,")
    rows = list(csv.reader(io.StringIO(TsvWriter(level="word").render(document)), delimiter="\t"))
    assert rows[0] == ["start", "end", "speaker", "text"] and rows[8] == ["3.000", "3.400", "說話人 1", "你"]
    entry = json.loads(ManifestWriter(ctm_dir="out").render(document))
    assert entry == {"audio_filepath": "/data/talk.wav", "duration": 9.0, "pred_text": document.transcript.text,
                     "word_level_ctm_filepath": "out/talk.ctm"}
    result = json.loads(WhisperxWriter().render(document))
    assert result["language"] == "en"
    assert [w["word"] for w in result["segments"][0]["words"]][:2] == ["Hello,", "Bob"]
    assert result["segments"][1]["words"][1] == {"word": "好，", "start": 3.5, "end": 3.9, "speaker": "說話人 1"}
    assert len(result["word_segments"]) == sum(len(s["words"]) for s in result["segments"])


def _audio():
    from qasr_plugins.document import AudioInfo

    return AudioInfo("u.wav", 20.0)


def test_cues_are_ordered_by_start_when_segments_overlap() -> None:
    import webvtt

    long = TranscriptSegment(Span(0, 10), "First. Second.", speaker="A",
                             words=(Word("First", Span(0, 1), "A"), Word("Second", Span(8, 9), "A")))
    inner = TranscriptSegment(Span(5, 6), "Inner.", speaker="B", words=(Word("Inner", Span(5, 6), "B"),))
    document = ResultDocument("u", _audio(), transcript=Transcript("u", (long, inner)))
    starts = [c.start_in_seconds for c in webvtt.from_string(VttWriter().render(document), strict=True)]
    assert starts == sorted(starts) == [0, 5, 8]
