"""``qasr cache info`` and ``qasr cache prune``: what the stage cache holds, and keeping it small."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from qasr_plugins.commands.errors import handle_errors
from qasr_plugins.errors import ConfigError

if TYPE_CHECKING:
    from qasr_plugins.cache import StageCache

cache_app = typer.Typer(add_completion=False, no_args_is_help=True,
                        help="The stage cache: node outputs kept for reruns (see docs/cache.md).")

DIR_HELP = "The stage cache directory (default: $QASR_STAGE_CACHE, else ~/.cache/qasr/stages)."
_SIZE_UNITS = {"": 1, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_size(text: str, option: str = "--max-size") -> int:
    """Bytes from ``500M``, ``2G``, ``1.5GiB``, ``0`` (binary units; ``B``/``iB`` suffixes optional)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*", text, flags=re.IGNORECASE)
    if not match:
        raise ConfigError(f"{text!r} is not a size.", where=option, code="C112",
                          hint="Write a number with an optional unit: 500M, 2G, 0.")
    return int(float(match[1]) * _SIZE_UNITS[match[2].upper()])


def parse_age(text: str, option: str = "--older-than") -> float:
    """Seconds from ``30d``, ``12h``, ``90m``, ``45s``, ``2w``."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if not match:
        raise ConfigError(f"{text!r} is not an age.", where=option, code="C112",
                          hint="Write a number and a unit: 45s, 90m, 12h, 30d, 2w.")
    return float(match[1]) * _AGE_UNITS[match[2]]


def _open(directory: Path | None) -> StageCache:
    from qasr_plugins.cache import StageCache, default_cache_dir

    root = directory or default_cache_dir()
    if root is None:
        raise ConfigError("the default stage cache is off ($QASR_STAGE_CACHE=off).", where="--dir", code="C112",
                          hint="Name the cache with --dir DIR.")
    return StageCache(root)


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError


@cache_app.command()
@handle_errors
def info(
    directory: Annotated[Path | None, typer.Option("--dir", help=DIR_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Where the stage cache is, its size, and its entries per stage."""
    found = _open(directory).info()
    if as_json:
        typer.echo(json.dumps({"root": str(found.root), "entries": found.total_entries, "size": found.total_size,
                               "stages": {stage: {"entries": count, "size": found.sizes[stage]}
                                          for stage, count in found.entries.items()}}, indent=2))
        return
    typer.echo(f"stage cache {found.root}: {found.total_entries} entries, {_human(found.total_size)}")
    for stage, count in found.entries.items():
        typer.echo(f"  {stage:32} {count:8} entries  {_human(found.sizes[stage]):>10}")


@cache_app.command()
@handle_errors
def prune(
    directory: Annotated[Path | None, typer.Option("--dir", help=DIR_HELP)] = None,
    older_than: Annotated[str | None, typer.Option("--older-than", help="Remove entries unused for longer: "
                                                                         "45s, 90m, 12h, 30d, 2w.")] = None,
    max_size: Annotated[str | None, typer.Option("--max-size", help="Then remove the least recently used until "
                                                                     "the cache is at most this: 500M, 2G, 0.")] = None,
) -> None:
    """Remove entries unused for a while, then the least recently used beyond a size; with neither option only
    temporary files of interrupted writes go."""
    age = None if older_than is None else parse_age(older_than)
    size = None if max_size is None else parse_size(max_size)
    result = _open(directory).prune(older_than=age, max_size=size)
    typer.echo(f"removed {result.removed} entries ({_human(result.freed)}); {result.kept} kept")
