"""Every writer's output for the shared document equals its golden file — and each golden file holds lines checked
by hand against the document in ``conftest.py`` (written here, not by the writers), so a golden file regenerated
from a broken writer cannot pass.

Regenerate after an intended change with ``python tests/writers/test_golden.py`` and review the diff.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qasr_plugins import registry
from qasr_plugins.document import ResultDocument

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden" / "writers"
FORMATS = ("srt", "vtt", "rttm", "ctm", "textgrid", "txt", "tsv", "manifest", "vad_manifest", "whisperx")

#: Lines each format must hold for the document, worked out by hand: its turns (0.4–3.2 SPEAKER_00, 2.7–5.1
#: "說話人 1", 6.0–8.0 SPEAKER_00), its words (Hello 0.5–0.9 … Yes 2.8–3.2, four Chinese characters 3.0–4.9) and
#: its three segments (the first split into two cues at the 0.4 s pause before "Yes").
HAND_CHECKED: dict[str, list[str]] = {
    "rttm": ["SPEAKER talk 1 0.400 2.800 <NA> <NA> SPEAKER_00 <NA> <NA>",
             "SPEAKER talk 1 2.700 2.400 <NA> <NA> 說話人_1 <NA> <NA>",  # RTTM fields cannot hold spaces
             "SPEAKER talk 1 6.000 2.000 <NA> <NA> SPEAKER_00 <NA> <NA>"],
    "ctm": ["talk 1 0.50 0.40 Hello", "talk 1 2.80 0.40 Yes", "talk 1 3.00 0.40 你", "talk 1 4.50 0.40 界"],
    "srt": ["00:00:00,500 --> 00:00:02,400", "SPEAKER_00: Hello, Bob & ‹Alice› --› fine?",  # no tags in SRT
            "00:00:02,800 --> 00:00:03,200", "SPEAKER_00: Yes.", "00:00:03,000 --> 00:00:04,900",
            "說話人 1: 你好，世界。", "00:00:06,000 --> 00:00:08,000", "SPEAKER_00: An untimed segment without words."],
    "vtt": ["WEBVTT", "<v SPEAKER_00>Hello, Bob &amp; &lt;Alice&gt; --&gt; fine?</v>", "<v 說話人 1>你好，世界。</v>"],
    "txt": ["SPEAKER_00: Hello, Bob & <Alice> --> fine? Yes.", "說話人 1: 你好，世界。",
            "SPEAKER_00: An untimed segment without words."],
    "tsv": ["start\tend\tspeaker\ttext", "0.500\t3.200\tSPEAKER_00\tHello, Bob & <Alice> --> fine? Yes.",
            "3.000\t5.000\t說話人 1\t你好，世界。", "6.000\t8.000\tSPEAKER_00\tAn untimed segment without words."],
    "textgrid": ['        name = "SPEAKER_00 - words" ', '            text = "Hello" ', "xmax = 9 "],
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_output_matches_golden(fmt: str, document: ResultDocument) -> None:
    writer_class = registry.load("writer", fmt)
    rendered = writer_class().render(document)
    assert rendered == (GOLDEN / f"talk.{writer_class.suffix}").read_text(encoding="utf-8")


@pytest.mark.parametrize("fmt", sorted(HAND_CHECKED))
def test_golden_holds_the_hand_checked_lines(fmt: str) -> None:
    lines = (GOLDEN / f"talk.{registry.load('writer', fmt).suffix}").read_text(encoding="utf-8").splitlines()
    missing = [line for line in HAND_CHECKED[fmt] if line not in lines]
    assert not missing, missing
    if fmt in ("rttm", "ctm", "tsv", "txt"):  # nothing but the lines worked out by hand (and blank separators)
        assert len([line for line in lines if line.strip()]) == {"ctm": 11}.get(fmt, len(HAND_CHECKED[fmt]))


def test_json_goldens_hold_the_hand_checked_fields() -> None:
    manifest = json.loads((GOLDEN / "talk.manifest.jsonl").read_text(encoding="utf-8"))
    assert manifest == {"audio_filepath": "/data/talk.wav", "duration": 9.0,
                        "pred_text": "Hello, Bob & <Alice> --> fine? Yes. 你好，世界。 An untimed segment without words."}
    lines = (GOLDEN / "talk.vad_manifest.jsonl").read_text(encoding="utf-8").splitlines()
    regions = [json.loads(line) for line in lines]
    assert regions == [  # the document has no speech regions: the union of its turns
        {"audio_filepath": "/data/talk.wav", "offset": 0.4, "duration": 4.7, "label": "UNK", "uniq_id": "talk"},
        {"audio_filepath": "/data/talk.wav", "offset": 6.0, "duration": 2.0, "label": "UNK", "uniq_id": "talk"}]
    whisperx = json.loads((GOLDEN / "talk.whisperx.json").read_text(encoding="utf-8"))
    first = whisperx["segments"][0]
    assert (first["start"], first["end"], first["speaker"]) == (0.5, 3.2, "SPEAKER_00")
    assert [w["word"] for w in first["words"]] == ["Hello,", "Bob", "&", "<Alice>", "-->", "fine?", "Yes."]
    assert first["words"][0] == {"word": "Hello,", "start": 0.5, "end": 0.9, "score": 0.9, "speaker": "SPEAKER_00"}
    assert len(whisperx["word_segments"]) == 11


def test_suffixes_are_distinct_and_do_not_clash_with_json_outputs() -> None:
    suffixes = [registry.load("writer", e.name).suffix for e in registry.entries("writer")]
    assert len(suffixes) == len(set(suffixes))
    assert "error.json" not in suffixes


if __name__ == "__main__":  # regenerate the golden files (then review the diff)
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from conftest import build_document

    for name in FORMATS:
        cls = registry.load("writer", name)
        (GOLDEN / f"talk.{cls.suffix}").write_text(cls().render(build_document()), encoding="utf-8")
