"""Measure the ``offline`` pipeline on pyannote's sample and the synthetic dev/test corpus, per condition.

Renders the conversations of :mod:`qasr_plugins.testing.synth.corpus` (cached in the corpus directory, so a
second run only reads them), runs the pipeline over them and ``sample.wav`` (shipped with pyannote.audio), and
scores the results with the same code as ``qasr eval``: DER (0.25 s collar by default) and JER, the share of
files whose number of speakers was found, and WER/WDER when the pipeline transcribes.

    python scripts/measure_offline_quality.py                      # summary table on stdout
    python scripts/measure_offline_quality.py --split dev --conditions --no-asr   # per condition, diarization only
    python scripts/measure_offline_quality.py --split test --long --json test.json  # long recordings too; JSON
    python scripts/measure_offline_quality.py -o work stages.diar.num_speakers=2   # keep files; any overrides

Tune on ``--split dev``; ``test`` has other voices and is for checking, not for choosing settings.
``--no-asr`` runs VAD and diarization only (the pipeline's ASR and attribution nodes removed), several times
faster. The stage cache is off unless ``--stage-cache DIR`` is given, so a changed stage is always rerun.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qasr_plugins import Pipeline
from qasr_plugins.evaluation.readers import EvalFile, read_all
from qasr_plugins.evaluation.report import EvalOptions, evaluate, format_table
from qasr_plugins.testing.synth import overlap_ratio
from qasr_plugins.testing.synth.corpus import (
    CHANNELS,
    LANGUAGES,
    OVERLAP_BUCKETS,
    SNR_BUCKETS,
    SPEAKER_COUNTS,
    TURN_STYLES,
    CorpusEntry,
    corpus,
    overlap_bucket,
    render,
    select,
)

#: Overrides that reduce the offline pipeline to VAD and diarization.
NO_ASR = ("~graph.asr", "~graph.words", "~stages.asr", "~stages.words")
#: Every condition with its values in table order.
CONDITIONS: dict[str, tuple[object, ...]] = {
    "speakers": SPEAKER_COUNTS, "overlap": tuple(OVERLAP_BUCKETS), "snr": tuple(SNR_BUCKETS), "turns": TURN_STYLES,
    "channel": CHANNELS, "language": LANGUAGES, "length": ("short", "long")}


def pyannote_sample() -> tuple[Path, Path, Path]:
    """sample.wav, sample.rttm and sample.stm from the installed pyannote.audio."""
    spec = importlib.util.find_spec("pyannote.audio")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("pyannote.audio is not installed; it ships sample.wav.")
    folder = Path(next(iter(spec.submodule_search_locations))) / "sample"
    return folder / "sample.wav", folder / "sample.rttm", folder / "sample.stm"


def default_corpus_dir(seed: int) -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "qasr" / "corpus" / f"seed{seed}"


@dataclass(frozen=True)
class Settings:
    split: str = "all"
    long: bool = False
    asr: bool = True
    collar: float = 0.25
    pipeline: str = "offline"
    overrides: tuple[str, ...] = ()
    seed: int = 0
    stage_cache: Path | None = None
    reuse_outputs: bool = False  # score the results already in WORK/out instead of running the pipeline


def _speakers(record: EvalFile) -> int:
    return len({t.speaker for t in record.turns or ()})


def _file_rows(report_files: Sequence[dict[str, Any]], references: Mapping[str, EvalFile],
               hypotheses: Mapping[str, EvalFile], labels: Mapping[str, dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for row in report_files:
        uri = row["uri"]
        reference, hypothesis = references[uri], hypotheses[uri]
        found = {"uri": uri, **labels[uri], "ref_speakers": _speakers(reference),
                 "hyp_speakers": _speakers(hypothesis)}
        for metric in ("der", "jer", "wer", "cpwer", "wder"):
            if metric in row:
                found[metric] = row[metric]
        rows.append(found)
    return rows


def aggregate(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Micro-averaged DER, WER and WDER, mean JER and speaker-count accuracy over ``rows``."""
    rows = list(rows)
    out: dict[str, Any] = {"files": len(rows)}
    scored = [r for r in rows if "der" in r]
    total = sum(r["der"]["total"] for r in scored)
    if scored and total > 0:
        errors = sum(r["der"]["confusion"] + r["der"]["missed detection"] + r["der"]["false alarm"] for r in scored)
        out["der"] = errors / total
        for part, key in (("confusion", "confusion"), ("missed", "missed detection"), ("false_alarm", "false alarm")):
            out[f"der_{part}"] = sum(r["der"][key] for r in scored) / total
        out["jer"] = sum(r["jer"]["value"] for r in scored) / len(scored)
        out["speaker_count_accuracy"] = sum(r["ref_speakers"] == r["hyp_speakers"] for r in scored) / len(scored)
        out["speaker_count_error"] = sum(abs(r["ref_speakers"] - r["hyp_speakers"]) for r in scored) / len(scored)
    words = [r for r in rows if "wer" in r]
    reference_words = sum(r["wer"]["reference_words"] for r in words)
    if words and reference_words:
        out["wer"] = sum(r["wer"]["substitutions"] + r["wer"]["deletions"] + r["wer"]["insertions"]
                         for r in words) / reference_words
    paired = sum(r["wder"]["paired_words"] for r in rows if "wder" in r)
    if paired:
        out["wder"] = sum(r["wder"]["wrong_speaker"] for r in rows if "wder" in r) / paired
    return out


def by_condition(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """For every condition, the aggregate of the files with each of its values."""
    tables: dict[str, dict[str, dict[str, Any]]] = {}
    for condition, values in CONDITIONS.items():
        present = [v for v in values if any(r["conditions"][condition] == v for r in rows)]
        tables[condition] = {str(v): aggregate(r for r in rows if r["conditions"][condition] == v) for v in present}
    return tables


def _labels(entry: CorpusEntry, turns: Sequence[Any], duration: float) -> dict[str, Any]:
    ratio = overlap_ratio(turns)
    conditions = {**entry.conditions.as_dict(), "overlap": overlap_bucket(ratio)}  # as rendered, not as planned
    return {"split": entry.split, "conditions": conditions, "overlap_ratio": ratio, "duration": duration,
            "planned_overlap": entry.conditions.overlap}


def measure(work: Path, settings: Settings, corpus_dir: Path | None = None) -> dict[str, Any]:
    """Render the corpus, run the pipeline into ``work/out`` and score; the result as a JSON-ready dict."""
    wav, rttm, stm = pyannote_sample()
    lengths = ("short", "long") if settings.long else ("short",)
    entries = select(corpus(settings.seed), settings.split, lengths)
    started = time.perf_counter()
    rendered = render(entries, corpus_dir or work / "synth")
    render_seconds = time.perf_counter() - started
    labels = {"sample": {"split": "sample", "conditions": None, "duration": None}}
    labels.update({r.name: _labels(e, r.turns, r.duration) for e, r in zip(entries, rendered, strict=True)})
    inputs = [wav, *(r.wav for r in rendered)]
    references = read_all([rttm, stm, *(p for r in rendered for p in (r.rttm, r.stm))])
    failed: dict[str, str] = {}
    started = time.perf_counter()
    if not settings.reuse_outputs:
        overrides = [*(NO_ASR if not settings.asr else ()), *settings.overrides]
        runner = Pipeline.from_config(settings.pipeline, overrides, formats=["json"],
                                      cache=settings.stage_cache or False)
        summary = runner.run(inputs, work / "out", overwrite=True, progress=False)
        if summary.errors:
            sys.exit(f"the run failed: {summary.errors}")
        failed = {o.uri: (o.error or {}).get("message", "failed") for o in summary.outcomes if o.status == "failed"}
    pipeline_seconds = time.perf_counter() - started
    results = [work / "out" / f"{p.stem}.json" for p in inputs]
    failed.update({p.stem: "no result" for p in results if not p.is_file() and p.stem not in failed})
    hypotheses = read_all([p for p in results if p.stem not in failed])
    report = evaluate(references, hypotheses, EvalOptions(collar=settings.collar))
    rows = _file_rows(report.files, references, hypotheses, labels)
    corpus_rows = [r for r in rows if r["split"] != "sample"]
    splits = sorted({r["split"] for r in corpus_rows})
    return {
        "settings": {"split": settings.split, "long": settings.long, "asr": settings.asr,
                     "collar": settings.collar, "pipeline": settings.pipeline, "overrides": list(settings.overrides),
                     "seed": settings.seed},
        "failed": failed,
        "seconds": {"render": render_seconds, "pipeline": pipeline_seconds,
                    "audio": sum(r.duration for r in rendered)},
        "table": format_table(report),
        "files": rows,
        "summary": {"sample": aggregate(r for r in rows if r["split"] == "sample"),
                    **{s: aggregate(r for r in corpus_rows if r["split"] == s) for s in splits},
                    **({"all": aggregate(corpus_rows)} if len(splits) > 1 else {})},
        "conditions": {s: by_condition([r for r in corpus_rows if r["split"] == s]) for s in splits},
    }


_COLUMNS = (("files", "files", 1, "{:.0f}"), ("der", "DER %", 100, "{:.2f}"),
            ("der_confusion", "conf %", 100, "{:.2f}"), ("der_missed", "miss %", 100, "{:.2f}"),
            ("der_false_alarm", "FA %", 100, "{:.2f}"), ("jer", "JER %", 100, "{:.2f}"),
            ("speaker_count_accuracy", "#spk ok %", 100, "{:.0f}"), ("wer", "WER %", 100, "{:.2f}"),
            ("wder", "WDER %", 100, "{:.2f}"))


def markdown(rows: Mapping[str, Mapping[str, Any]], first: str) -> str:
    """A Markdown table: one row per key of ``rows``, the columns that have a value somewhere."""
    columns = [c for c in _COLUMNS if any(c[0] in r for r in rows.values())]
    lines = [f"| {first} | " + " | ".join(c[1] for c in columns) + " |",
             "|---|" + "---:|" * len(columns)]
    for name, row in rows.items():
        cells = [c[3].format(row[c[0]] * c[2]) if c[0] in row else "-" for c in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def text_report(result: Mapping[str, Any], *, conditions: bool, files: bool) -> str:
    seconds = result["seconds"]
    header = (f"audio {seconds['audio'] / 60:.1f} min; render {seconds['render']:.1f} s; "
              f"pipeline {seconds['pipeline']:.1f} s; collar {result['settings']['collar']} s")
    parts = [header + (f"; left out (failed): {', '.join(result['failed'])}" if result["failed"] else ""),
             markdown(result["summary"], "set")]
    if files:
        parts.append(result["table"])
    if conditions:
        for split, tables in result["conditions"].items():
            for condition, values in tables.items():
                parts.append(f"{split} — {condition}\n\n" + markdown(values, condition))
    return "\n\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("overrides", nargs="*", help="Pipeline overrides, e.g. stages.diar.num_speakers=2.")
    parser.add_argument("-o", "--work-dir", type=Path, help="Keep audio (synth/), references and results (out/).")
    parser.add_argument("--split", choices=("dev", "test", "all"), default="all", help="Corpus split (default all).")
    parser.add_argument("--long", action="store_true", help="Add the recordings of 30 minutes and more.")
    parser.add_argument("--conditions", action="store_true", help="Print a table per condition and split.")
    parser.add_argument("--files", action="store_true", help="Print the per-file table of qasr eval.")
    parser.add_argument("--no-asr", dest="asr", action="store_false",
                        help="VAD and diarization only: no WER/WDER, several times faster.")
    parser.add_argument("--json", type=Path, help="Write every number (per file, condition and split) here.")
    parser.add_argument("--collar", type=float, default=0.25, help="DER collar in seconds (pyannote.metrics).")
    parser.add_argument("--pipeline", default="offline", help="Pipeline name or YAML path.")
    parser.add_argument("--seed", type=int, default=0, help="Corpus seed (default 0, the documented numbers).")
    parser.add_argument("--corpus-dir", type=Path,
                        help="Where rendered conversations are cached (default: WORK/synth with -o, else "
                             "~/.cache/qasr/corpus/seed<N>).")
    parser.add_argument("--stage-cache", type=Path, help="Reuse stage outputs from this stage cache.")
    parser.add_argument("--reuse-outputs", action="store_true",
                        help="With -o: score the results already in WORK/out (another collar, other tables).")
    args = parser.parse_args()
    if args.reuse_outputs and not args.work_dir:
        parser.error("--reuse-outputs needs -o WORK")
    settings = Settings(args.split, args.long, args.asr, args.collar, args.pipeline, tuple(args.overrides),
                        args.seed, args.stage_cache, args.reuse_outputs)
    if args.work_dir:
        result = measure(args.work_dir, settings, args.corpus_dir)
    else:
        with tempfile.TemporaryDirectory(prefix="qasr-quality-") as tmp:
            result = measure(Path(tmp), settings, args.corpus_dir or default_corpus_dir(args.seed))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    print(text_report(result, conditions=args.conditions, files=args.files))
    if result["failed"]:
        sys.exit(f"the pipeline failed on {len(result['failed'])} file(s), left out of the scores: "
                 + "; ".join(f"{uri}: {message}" for uri, message in result["failed"].items()))


if __name__ == "__main__":
    main()
