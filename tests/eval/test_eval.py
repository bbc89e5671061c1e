"""``qasr eval``: metric values checked against hand-computed ones on tiny examples, readers, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qasr_plugins.cli import app
from qasr_plugins.document import AudioInfo, ResultDocument
from qasr_plugins.errors import InputError
from qasr_plugins.evaluation import metrics
from qasr_plugins.evaluation.normalize import normalize
from qasr_plugins.evaluation.readers import EvalFile, EvalWord, read_all
from qasr_plugins.evaluation.report import EvalOptions, evaluate
from qasr_plugins.types import Span, Transcript, TranscriptSegment, Turn, Word


def spoken(*pairs: tuple[str, str]) -> list[metrics.Token]:
    return metrics.tokens([EvalWord(text, speaker=speaker) for speaker, text in pairs for text in text.split()])


def turns(*items: tuple[float, float, str]) -> tuple[Turn, ...]:
    return tuple(Turn(Span(s, e), spk) for s, e, spk in items)


def test_normalisation() -> None:
    assert normalize("Hello, World! I'm twenty-one. Don’t") == ["hello", "world", "i'm", "twenty", "one", "don't"]
    assert normalize("你好，世界。ＯＫ") == ["你", "好", "世", "界", "ok"]


def test_wer_counts() -> None:
    counts = metrics.wer(spoken(("A", "the cat sat on the mat")), spoken(("A", "the cat sit on mat")))
    assert (counts.substitutions, counts.deletions, counts.insertions, counts.reference) == (1, 1, 0, 6)
    assert counts.rate() == pytest.approx(2 / 6)
    assert metrics.wer(spoken(("A", "Hello, World!")), spoken(("A", "hello world"))).rate() == 0.0
    assert metrics.wer([], spoken(("A", "extra"))).rate() == float("inf")


def test_cpwer_pairs_speakers_to_minimise_errors() -> None:
    ref = spoken(("A", "a b c"), ("B", "d e"))
    hyp = spoken(("X", "d e"), ("Y", "a b x"))
    assert metrics.cpwer(ref, hyp).rate() == pytest.approx(1 / 5)
    assert metrics.cpwer(ref, hyp + spoken(("Z", "f"))).rate() == pytest.approx(2 / 5)  # an extra speaker inserts


def test_wder_uses_the_best_speaker_mapping() -> None:
    ref = spoken(("A", "a b"), ("B", "c d"))
    hyp = spoken(("X", "a b c"), ("Y", "d"))
    result = metrics.wder(ref, hyp)
    assert (result.wrong, result.paired) == (1, 4)


def test_boundary_shift() -> None:
    ref = metrics.tokens([EvalWord("a", 0.0, 0.5), EvalWord("b", 0.6, 1.0), EvalWord("c", 1.2, 1.5)])
    hyp = metrics.tokens([EvalWord("a", 0.05, 0.5), EvalWord("b", 0.6, 1.2), EvalWord("c", 1.2, 1.5)])
    shift = metrics.boundary_shift(ref, hyp, 0.08).to_dict()
    assert shift["matched_words"] == 3
    assert shift["mean_start"] == pytest.approx(0.05 / 3) and shift["median_start"] == 0.0
    assert shift["mean_end"] == pytest.approx(0.2 / 3)
    assert shift["within"] == pytest.approx(500 / 6)


def _file(uri: str, items: tuple[Turn, ...]) -> dict[str, EvalFile]:
    return {uri: EvalFile(uri, (f"{uri}.rttm",), turns=items)}


def test_der_and_jer_hand_computed() -> None:
    ref = _file("u", turns((0, 10, "A"), (10, 20, "B")))
    missed = evaluate(ref, _file("u", turns((0, 10, "X"), (10, 18, "Y"))))
    assert missed.files[0]["der"]["value"] == pytest.approx(2 / 20)
    assert missed.files[0]["der"]["missed detection"] == pytest.approx(2)
    merged = evaluate(ref, _file("u", turns((0, 20, "X"))))
    assert merged.files[0]["der"]["value"] == pytest.approx(10 / 20)  # B's 10 s confused
    assert merged.files[0]["jer"]["value"] == pytest.approx((0.5 + 1.0) / 2)  # A~X: 10/20 wrong; B unmapped
    late = _file("u", turns((0, 10.2, "X"), (10.2, 20, "Y")))
    assert evaluate(ref, late).files[0]["der"]["value"] == pytest.approx(0.2 / 20)
    assert evaluate(ref, late, EvalOptions(collar=0.5)).files[0]["der"]["value"] == 0.0


def test_aggregate_is_a_micro_average() -> None:
    refs = {"a": EvalFile("a", ("a.txt",), words=(EvalWord("x"), EvalWord("y"))),
            "b": EvalFile("b", ("b.txt",), words=tuple(EvalWord(w) for w in ["p", "q", "r", "s", "t", "u"]))}
    hyps = {"a": EvalFile("a", ("a.json",), words=(EvalWord("x"),)),
            "b": EvalFile("b", ("b.json",), words=tuple(EvalWord(w) for w in ["p", "q", "r", "s", "t", "u"])),
            "c": EvalFile("c", ("c.json",), words=())}
    report = evaluate(refs, hyps)
    assert report.aggregate["wer"]["value"] == pytest.approx(1 / 8)
    assert report.unmatched_hypotheses == ["c"] and "der" not in report.aggregate


def test_pyannote_sample_against_itself_is_perfect(sample_rttm: Path, sample_stm: Path) -> None:
    result = CliRunner().invoke(app, ["eval", "--ref", str(sample_rttm), "--ref", str(sample_stm),
                                      "--hyp", str(sample_rttm), "--hyp", str(sample_stm), "--json"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.output)["files"][0]
    assert row["uri"] == "sample"
    assert row["der"]["value"] == 0.0 and row["jer"]["value"] == 0.0
    assert row["wer"]["value"] == 0.0 and row["wer"]["reference_words"] == 81
    assert row["cpwer"]["value"] == 0.0 and row["wder"]["value"] == 0.0


def _document(tmp_path: Path, name: str = "sample") -> Path:
    segments = (TranscriptSegment(Span(6.68, 7.2), "Hello?", speaker="spk1",
                                  words=(Word("Hello", Span(6.7, 7.1), "spk1"),)),
                TranscriptSegment(Span(7.6, 8.2), "Hello?", speaker="spk2"))
    document = ResultDocument(name, AudioInfo(f"{name}.wav", 30.0), transcript=Transcript(name, segments))
    path = tmp_path / f"{name}.json"
    path.write_text(document.to_json(), encoding="utf-8")
    return path


def test_json_hypothesis_table_and_unmatched(tmp_path: Path, sample_stm: Path) -> None:
    _document(tmp_path)
    _document(tmp_path, "other")
    (tmp_path / "qasr-summary.json").write_text("{}", encoding="utf-8")  # skipped in a directory
    result = CliRunner().invoke(app, ["eval", "--ref", str(sample_stm), "--hyp", str(tmp_path)])
    assert result.exit_code == 0, result.output
    header, row, _total, unmatched = result.output.strip().splitlines()
    assert header.split() == ["uri", "WER%", "cpWER%", "WDER%"]
    assert row.split()[0] == "sample" and float(row.split()[1]) == pytest.approx(79 / 81 * 100, abs=0.01)
    assert unmatched == "no reference for: other"


def test_textgrid_and_ctm_word_references(tmp_path: Path) -> None:
    from qasr_plugins.adapters.nemo.ctm import CtmWriter
    from qasr_plugins.writers.textgrid import TextGridWriter

    document = ResultDocument.load(_document(tmp_path))
    (tmp_path / "ref").mkdir()
    (tmp_path / "ref" / "sample.TextGrid").write_text(TextGridWriter().render(document), encoding="utf-8")
    (tmp_path / "hyp.ctm").write_text("sample 1 6.75 0.40 hello\n", encoding="utf-8")
    report = evaluate(read_all([tmp_path / "ref"]), read_all([tmp_path / "hyp.ctm"]))
    assert report.files[0]["boundary"]["mean_start"] == pytest.approx(0.05)
    assert report.files[0]["boundary"]["within"] == 100.0
    assert CtmWriter().render(document) == "sample 1 6.70 0.40 Hello\n"


def test_bad_reference_files_are_coded_errors_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.stm"
    bad.write_text("sample 1 Diane 6.68\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_all([bad])
    assert info.value.code == "I310" and info.value.where == str(bad)
    odd = tmp_path / "x.doc"
    odd.write_text("", encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_all([odd])
    assert info.value.code == "I312"
    result = CliRunner().invoke(app, ["eval", "--ref", str(bad), "--hyp", str(bad)])
    assert result.exit_code == 2 and "I310" in result.output


def test_same_format_twice_for_one_uri_is_an_error(tmp_path: Path, sample_rttm: Path) -> None:
    copy = tmp_path / "copy.rttm"
    copy.write_text(sample_rttm.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_all([sample_rttm, copy])
    assert info.value.code == "I311"


def test_uem_and_skip_overlap_options(tmp_path: Path) -> None:
    (tmp_path / "ref.rttm").write_text("SPEAKER u 1 0.0 10.0 <NA> <NA> A <NA> <NA>\n"
                                       "SPEAKER u 1 4.0 2.0 <NA> <NA> B <NA> <NA>\n", encoding="utf-8")
    (tmp_path / "hyp.rttm").write_text("SPEAKER u 1 0.0 5.0 <NA> <NA> X <NA> <NA>\n", encoding="utf-8")
    (tmp_path / "u.uem").write_text("u 1 0.0 4.0\n", encoding="utf-8")

    def der(*options: str) -> float:
        result = CliRunner().invoke(app, ["eval", "--ref", str(tmp_path / "ref.rttm"), "--hyp",
                                          str(tmp_path / "hyp.rttm"), "--json", *options])
        assert result.exit_code == 0, result.output
        return json.loads(result.output)["files"][0]["der"]["value"]

    assert der() == pytest.approx((5 + 2) / 12)  # A missed over 5-10 s, B over 4-6 s, of 12 s of speech
    assert der("--uem", str(tmp_path / "u.uem")) == 0.0
    assert der("--skip-overlap") == pytest.approx(4 / 8)  # overlap 4-6 removed: A misses 6-10 of 8 s


def test_known_errors_against_the_sample_references(tmp_path: Path, sample_rttm: Path, sample_stm: Path) -> None:
    """One turn given to the wrong speaker and one word dropped: the CLI reports exactly those errors."""
    rttm = sample_rttm.read_text().splitlines()
    first = rttm[0].split()
    assert first[7] == "speaker90" and float(first[3]) + float(first[4]) < float(rttm[1].split()[3])  # alone
    (tmp_path / "hyp.rttm").write_text("\n".join([rttm[0].replace("speaker90", "speaker91"), *rttm[1:]]) + "\n")
    stm = sample_stm.read_text().splitlines()
    assert stm[1].split()[5:] == ["Hello?"]
    (tmp_path / "hyp.stm").write_text("\n".join([stm[0], *stm[2:]]) + "\n")
    result = CliRunner().invoke(app, ["eval", "--ref", str(sample_rttm), "--ref", str(sample_stm),
                                      "--hyp", str(tmp_path / "hyp.rttm"), "--hyp", str(tmp_path / "hyp.stm"),
                                      "--collar", "0", "--json"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.output)["files"][0]
    speech = sum(float(line.split()[4]) for line in rttm if line.strip())
    assert row["der"]["value"] == pytest.approx(float(first[4]) / speech)  # 0.43 s confused
    words = sum(len(line.split()[5:]) for line in stm if line.strip())
    assert row["wer"]["value"] == pytest.approx(1 / words)  # one deletion
