"""``qasr convert``: turn an original-layout Qwen3-ASR / Qwen3-ForcedAligner checkpoint into the native layout."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qasr_plugins.commands.errors import handle_errors


@handle_errors
def convert(
    src: Annotated[Path, typer.Argument(help="Original-layout checkpoint directory (qwen-asr format).")],
    dst: Annotated[Path, typer.Argument(help="Output directory for the native (-hf layout) checkpoint.")],
    dtype: Annotated[str | None, typer.Option(help="Cast weights: float32 or bfloat16 (default: keep).")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing output directory.")] = False,
) -> None:
    """Convert a Qwen3-ASR or Qwen3-ForcedAligner checkpoint to transformers' native qwen3_asr layout."""
    from qasr_plugins.qwen3.convert import convert_checkpoint

    report = convert_checkpoint(src, dst, dtype=dtype, overwrite=overwrite)
    skipped = f", {len(report.skipped)} derived buffer(s) dropped" if report.skipped else ""
    typer.echo(f"converted {report.kind} checkpoint: {report.tensors} tensors{skipped} → {report.target}")
