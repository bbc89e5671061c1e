"""``qasr eval``: score hypotheses against references (see ``docs/eval.md``). Heavy imports happen when it runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from qasr_plugins.commands.errors import handle_errors
from qasr_plugins.errors import InputError


@handle_errors
def evaluate(
    ref: Annotated[list[Path], typer.Option("--ref", help="Reference files or directories (RTTM, STM, CTM, "
                                                                "TextGrid, qasr JSON, plain text). Repeatable.")],
    hyp: Annotated[list[Path], typer.Option("--hyp", help="Hypothesis files or directories (same formats). "
                                                                "Repeatable.")],
    collar: Annotated[float, typer.Option(help="DER/JER: seconds ignored around each reference boundary "
                                                "(half on each side, as pyannote.metrics does).")] = 0.0,
    skip_overlap: Annotated[bool, typer.Option("--skip-overlap", help="DER/JER: ignore overlapped speech.")] = False,
    uem: Annotated[Path | None, typer.Option(help="DER/JER: a UEM file of the regions to score.")] = None,
    tolerance: Annotated[float, typer.Option(help="Word-boundary shift: seconds counted as on time.")] = 0.08,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of the table.")] = False,
) -> None:
    """Score hypotheses against references, paired by uri: DER, JER, WER, cpWER, WDER, word-boundary shift."""
    from qasr_plugins.evaluation.readers import read_all
    from qasr_plugins.evaluation.report import EvalOptions, format_table
    from qasr_plugins.evaluation.report import evaluate as score

    references, hypotheses = read_all(ref), read_all(hyp)
    report = score(references, hypotheses, EvalOptions(collar, skip_overlap, tolerance, _uem(uem)))
    if not report.files:
        raise InputError("no hypothesis shares a uri with a reference. References: "
                         f"{', '.join(sorted(references)) or 'none'}; hypotheses: "
                         f"{', '.join(sorted(hypotheses)) or 'none'}.", code="I313")
    typer.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) if as_json else format_table(report))


def _uem(path: Path | None) -> dict | None:
    if path is None:
        return None
    from pyannote.database.util import load_uem

    try:
        return dict(load_uem(str(path)))
    except Exception as exc:
        raise InputError(f"is not a valid UEM file ({type(exc).__name__}: {exc}).", where=str(path), code="I310",
                         hint="Expected lines '<uri> <channel> <start> <end>'.") from exc
