"""``qasr export-nemo MODEL OUT.nemo``: package Qwen3-ASR (and optionally its forced aligner) as a NeMo model file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from qasr_plugins.commands.errors import handle_errors
from qasr_plugins.errors import ConfigError


@handle_errors
def export_nemo(
    model: Annotated[str, typer.Argument(help="Qwen3-ASR hub id or directory (native -hf or original layout).")],
    output: Annotated[Path, typer.Argument(help="The .nemo file to write.")],
    settings: Annotated[list[str] | None, typer.Argument(help="Engine settings as key=value (language=English "
                                                                "max_new_tokens=256); aligner.key=value for the "
                                                                "aligner's (aligner.max_window=120).")] = None,
    aligner: Annotated[str | None, typer.Option("--aligner", help="Qwen3-ForcedAligner hub id or directory: the "
                                                                  "file then gives timestamps.")] = None,
    dtype: Annotated[str, typer.Option(help="float32 or bfloat16.")] = "float32",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing file.")] = False,
) -> None:
    """Write a .nemo file that NeMo restores as an ASRModel (e.g. transcribe_speech.py model_path=OUT.nemo)."""
    written = write_nemo(model, output, settings or [], aligner=aligner, dtype=dtype, overwrite=overwrite)
    typer.echo(f"wrote {written} ({written.stat().st_size / 1e6:.1f} MB); restore with "
               "Qwen3ASRModel.restore_from or NeMo's transcribe_speech.py model_path=...")


def write_nemo(model: str, output: Path, settings: list[str], *, aligner: str | None, dtype: str,
               overwrite: bool) -> Path:
    """Load, then save atomically (a temporary file beside ``output``, renamed into place).

    Raises:
        ConfigError: ``C112`` a setting is not key=value; ``C151`` the output exists (without ``overwrite``) or is
            not a ``.nemo`` path; and whatever loading raises.
    """
    if output.suffix != ".nemo":
        raise ConfigError(f"{output} does not end in .nemo", where=str(output), code="C151",
                          hint="NeMo recognises model files by the .nemo suffix.")
    if output.exists() and not overwrite:
        raise ConfigError(f"{output} exists", where=str(output), code="C151", hint="Pass --overwrite to replace it.")
    engine, timing = _split_settings(settings)
    from qasr_plugins.adapters.nemo import Qwen3ASRModel

    loaded = Qwen3ASRModel.from_pretrained(model, aligner=aligner, aligner_settings=timing, dtype=dtype, **engine)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.partial")
    try:
        loaded.save_to(str(partial))
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
    return output


def _split_settings(settings: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    import yaml

    engine: dict[str, Any] = {}
    timing: dict[str, Any] = {}
    for setting in settings:
        key, sep, value = setting.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"setting {setting!r} is not key=value", where=setting, code="C112",
                              hint="Write e.g. language=English or aligner.max_window=120.")
        key = key.strip()
        target, name = (timing, key[len("aligner."):]) if key.startswith("aligner.") else (engine, key)
        target[name] = yaml.safe_load(value) if value.strip() else None
    return engine, timing
