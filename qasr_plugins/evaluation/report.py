"""Pair hypotheses with references by uri, score each pair, aggregate, and format the result.

A metric is computed for a pair when both sides have what it needs: turns for DER/JER; words for WER; words with
a speaker on every reference word for cpWER and WDER; timed words on both sides for the boundary shift.
Aggregates are micro-averages: total errors over total reference (words, or seconds for DER/JER as pyannote
accumulates them).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from qasr_plugins.evaluation import metrics
from qasr_plugins.evaluation.readers import EvalFile


@dataclass(frozen=True)
class EvalOptions:
    collar: float = 0.0
    skip_overlap: bool = False
    tolerance: float = 0.08
    uem: Mapping[str, Any] | None = None  # uri -> pyannote Timeline


@dataclass(frozen=True)
class Report:
    files: list[dict[str, Any]]
    aggregate: dict[str, Any]
    unmatched_references: list[str] = field(default_factory=list)
    unmatched_hypotheses: list[str] = field(default_factory=list)
    options: EvalOptions = field(default_factory=EvalOptions)

    def to_dict(self) -> dict[str, Any]:
        return {"files": self.files, "aggregate": self.aggregate,
                "unmatched": {"references": self.unmatched_references, "hypotheses": self.unmatched_hypotheses},
                "settings": {"collar": self.options.collar, "skip_overlap": self.options.skip_overlap,
                             "tolerance": self.options.tolerance, "uem": self.options.uem is not None}}


def _diarization(metric: Any, ref: EvalFile, hyp: EvalFile, options: EvalOptions) -> dict[str, Any]:
    uem = options.uem.get(ref.uri) if options.uem is not None else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyannote warns when it approximates a missing UEM
        details = metric(metrics.annotation(ref.uri, ref.turns or ()), metrics.annotation(ref.uri, hyp.turns or ()),
                         uem=uem, detailed=True)
    return {"value": float(details[metric.metric_name()]),
            **{k: float(v) for k, v in details.items() if k != metric.metric_name()}}


def evaluate(references: Mapping[str, EvalFile], hypotheses: Mapping[str, EvalFile],
             options: EvalOptions = EvalOptions()) -> Report:
    """Score every hypothesis whose uri has a reference."""
    from pyannote.metrics.diarization import DiarizationErrorRate, JaccardErrorRate

    der = DiarizationErrorRate(collar=options.collar, skip_overlap=options.skip_overlap)
    jer = JaccardErrorRate(collar=options.collar, skip_overlap=options.skip_overlap)
    totals: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    for uri in sorted(set(references) & set(hypotheses)):
        ref, hyp = references[uri], hypotheses[uri]
        row: dict[str, Any] = {"uri": uri, "reference": list(ref.sources), "hypothesis": list(hyp.sources)}
        if ref.turns is not None and hyp.turns is not None:
            row["der"] = _diarization(der, ref, hyp, options)
            row["jer"] = _diarization(jer, ref, hyp, options)
        if ref.words is not None and hyp.words is not None:
            ref_tokens, hyp_tokens = metrics.tokens(ref.words), metrics.tokens(hyp.words)
            found: dict[str, Any] = {"wer": metrics.wer(ref_tokens, hyp_tokens)}
            if ref_tokens and all(t.speaker for t in ref_tokens):
                found["cpwer"] = metrics.cpwer(ref_tokens, hyp_tokens)
                found["wder"] = metrics.wder(ref_tokens, hyp_tokens)
            if any(t.start is not None for t in ref_tokens) and any(t.start is not None for t in hyp_tokens):
                found["boundary"] = metrics.boundary_shift(ref_tokens, hyp_tokens, options.tolerance)
            for name, value in found.items():
                row[name] = value.to_dict()
                totals[name] = totals[name] + value if name in totals else value
        rows.append(row)
    aggregate: dict[str, Any] = {name: value.to_dict() for name, value in totals.items()}
    if any("der" in r for r in rows):
        aggregate["der"] = {"value": float(abs(der))}
        aggregate["jer"] = {"value": float(abs(jer))}
    return Report(rows, aggregate, sorted(set(references) - set(hypotheses)),
                  sorted(set(hypotheses) - set(references)), options)


COLUMNS = (("der", "DER%", "value", 100), ("jer", "JER%", "value", 100), ("wer", "WER%", "value", 100),
           ("cpwer", "cpWER%", "value", 100), ("wder", "WDER%", "value", 100),
           ("boundary", "shift ms", "mean_start", 1000), ("boundary", "≤tol %", "within", 1))


def _cell(value: Any, scale: float) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return f"{value * scale:.2f}"


def format_table(report: Report) -> str:
    """Per-file rows and an ``ALL`` row, with only the columns that have a value somewhere."""
    entries = [*report.files, {"uri": "ALL", **report.aggregate}]
    columns = [c for c in COLUMNS if any(c[0] in e for e in entries)]
    header = ["uri", *(c[1] for c in columns)]
    body = [[str(e["uri"]), *(_cell(e[c[0]][c[2]], c[3]) if c[0] in e else "-" for c in columns)] for e in entries]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths,
                                                                                                      strict=True)))
             for row in [header, *body]]
    if report.unmatched_references:
        lines.append("no hypothesis for: " + ", ".join(report.unmatched_references))
    if report.unmatched_hypotheses:
        lines.append("no reference for: " + ", ".join(report.unmatched_hypotheses))
    return "\n".join(lines)
