"""The on-disk stage cache: one validated JSON entry per node output.

Layout: ``ROOT/v<ENTRY_VERSION>/<stage>/<key[:2]>/<key>.json``. An entry holds the schema version, the key, the
node's stage, its output's type, a checksum of the output and the output itself; it is written atomically (a reader
never sees half of one, concurrent writers of one key each rename a complete file into place) and checked on every
read: a corrupt, truncated or mismatched entry is a miss, removed and recomputed, never trusted. Reading an entry
touches its modification time, so :meth:`StageCache.prune` removes the least recently used first.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qasr_plugins.atomic import TEMP_NAME, write_atomic
from qasr_plugins.cache.keys import digest
from qasr_plugins.cachedir import cache_root
from qasr_plugins.errors import OutputError

ENTRY_SCHEMA = "qasr.cache-entry"
ENTRY_VERSION = 1
"""Entries of another version are never read (they sit in another directory)."""
ENV_VAR = "QASR_STAGE_CACHE"
"""Where the default stage cache lives, or ``off`` for none by default."""
OFF = ("off", "0", "false", "no", "none")

log = logging.getLogger(__name__)


def default_cache_dir() -> Path | None:
    """``$QASR_STAGE_CACHE`` (``off``: no default cache), else ``stages/`` in qasr's cache root
    (:func:`qasr_plugins.cachedir.cache_root`: ``$QASR_CACHE``, else ``~/.cache/qasr``)."""
    chosen = os.environ.get(ENV_VAR, "").strip()
    if chosen.lower() in OFF and chosen:
        return None
    return Path(chosen).expanduser() if chosen else cache_root() / "stages"


def open_cache(cache: bool | str | os.PathLike[str] | StageCache | None) -> StageCache | None:
    """The :class:`StageCache` that ``cache`` chooses: ``True`` the default one (:func:`default_cache_dir`, which
    may be none), ``False``/``None`` none, a directory, or a cache as it is."""
    if cache is None or cache is False:
        return None
    if isinstance(cache, StageCache):
        return cache
    root = default_cache_dir() if cache is True else Path(cache)
    return None if root is None else StageCache(root)


@dataclass(frozen=True)
class CacheInfo:
    """What a cache directory holds: entries and bytes per stage."""

    root: Path
    entries: dict[str, int] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)

    @property
    def total_entries(self) -> int:
        return sum(self.entries.values())

    @property
    def total_size(self) -> int:
        return sum(self.sizes.values())


@dataclass(frozen=True)
class PruneResult:
    removed: int
    freed: int
    kept: int


class StageCache:
    """Stage outputs by key under ``root`` (created on first write).

    A cache that cannot be written (read-only, full disk) logs one warning and the run goes on uncached: the cache
    is never a reason for a run to fail.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser()
        self._entries = self.root / f"v{ENTRY_VERSION}"
        self._warned = False

    def __repr__(self) -> str:
        return f"StageCache({str(self.root)!r})"

    def path(self, stage: str, key: str) -> Path:
        return self._entries / _folder(stage) / key[:2] / f"{key}.json"

    def get(self, stage: str, key: str, output_type: type) -> Any | None:
        """The output stored under ``key``, or ``None`` when there is none or it does not validate (then the
        entry is removed)."""
        path = self.path(stage, key)
        try:
            text = path.read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError):
            return None
        except (OSError, UnicodeDecodeError) as exc:
            return self._invalid(path, f"unreadable ({exc})")
        try:
            entry = json.loads(text)
            problem = _problem(entry, key, stage, output_type)
            if problem:
                return self._invalid(path, problem)
            output = output_type.from_dict(entry["output"])
        except Exception as exc:  # noqa: BLE001 - any failure to rebuild the output makes the entry invalid
            return self._invalid(path, f"does not decode ({type(exc).__name__}: {exc})")
        if not isinstance(output, output_type):
            return self._invalid(path, f"decodes to {type(output).__name__}")
        try:
            os.utime(path)
        except OSError:
            pass
        return output

    def put(self, stage: str, key: str, output: Any) -> None:
        """Store ``output`` under ``key``, atomically."""
        data = output.to_dict()
        entry = {"schema": ENTRY_SCHEMA, "schema_version": ENTRY_VERSION, "key": key, "stage": stage,
                 "type": type(output).__name__, "created": time.time(), "checksum": digest(data), "output": data}
        try:
            write_atomic(self.path(stage, key), json.dumps(entry, ensure_ascii=False, allow_nan=False))
        except (OutputError, ValueError) as exc:
            if not self._warned:
                self._warned = True
                log.warning("stage cache %s: not storing outputs (%s); the run goes on uncached.", self.root,
                            exc.render() if isinstance(exc, OutputError) else exc)

    def _invalid(self, path: Path, problem: str) -> None:
        log.warning("stage cache entry %s %s; recomputing it.", path, problem)
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass

    def files(self) -> Iterator[tuple[str, Path, os.stat_result]]:
        """Every entry file as ``(stage folder, path, stat)``; temporary files of interrupted writes included (they
        are garbage to prune)."""
        if not self._entries.is_dir():
            return
        for stage_dir in sorted(self._entries.iterdir()):
            if not stage_dir.is_dir():
                continue
            for path in stage_dir.glob("*/*"):
                try:
                    yield stage_dir.name, path, path.stat()
                except OSError:
                    continue

    def info(self) -> CacheInfo:
        entries: dict[str, int] = {}
        sizes: dict[str, int] = {}
        for stage, path, stat in self.files():
            if TEMP_NAME.match(path.name):
                continue
            entries[stage] = entries.get(stage, 0) + 1
            sizes[stage] = sizes.get(stage, 0) + stat.st_size
        return CacheInfo(self.root, entries, sizes)

    def prune(self, *, older_than: float | None = None, max_size: int | None = None,
              now: float | None = None) -> PruneResult:
        """Remove entries unused for more than ``older_than`` seconds, then the least recently used until the
        cache holds at most ``max_size`` bytes. Temporary files of interrupted writes older than an hour go too.
        Without either bound nothing but those temporary files is removed."""
        now = time.time() if now is None else now
        removed = freed = 0
        kept: list[tuple[float, int, Path]] = []
        for _, path, stat in self.files():
            stale_temp = TEMP_NAME.match(path.name) and now - stat.st_mtime > 3600
            too_old = older_than is not None and now - stat.st_mtime > older_than
            if stale_temp or (too_old and not TEMP_NAME.match(path.name)):
                removed, freed = removed + _remove(path), freed + stat.st_size
            elif not TEMP_NAME.match(path.name):
                kept.append((stat.st_mtime, stat.st_size, path))
        if max_size is not None:
            kept.sort()
            total = sum(size for _, size, _ in kept)
            while kept and total > max_size:
                _, size, path = kept.pop(0)
                removed, freed, total = removed + _remove(path), freed + size, total - size
        return PruneResult(removed, freed, len(kept))


def _remove(path: Path) -> int:
    try:
        path.unlink()
    except FileNotFoundError:
        return 0
    return 1


def _problem(entry: Any, key: str, stage: str, output_type: type) -> str:
    """What is wrong with an entry read for ``key``, or ``""``."""
    if not isinstance(entry, dict) or entry.get("schema") != ENTRY_SCHEMA:
        return "is not a cache entry"
    if entry.get("schema_version") != ENTRY_VERSION:
        return f"has schema version {entry.get('schema_version')!r}"
    if entry.get("key") != key or entry.get("stage") != stage:
        return "belongs to another key"
    if entry.get("type") != output_type.__name__:
        return f"holds a {entry.get('type')!r}, not a {output_type.__name__}"
    if digest(entry.get("output")) != entry.get("checksum"):
        return "fails its checksum"
    return ""


def _folder(stage: str) -> str:
    """A stage name as a directory name (registered names are dotted identifiers; anything else is replaced)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", stage)[:100] or "_"
