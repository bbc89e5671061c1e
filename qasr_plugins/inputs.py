"""Turn command-line inputs (files, globs, directories, NeMo JSONL manifests) into a list of work items.

Every input gets a URI, the name of its outputs (``DIR/<uri>.<ext>``). The rule, applied in this order:

1. The file stem (``talk.wav`` → ``talk``); a manifest line with a non-zero ``offset`` adds it in milliseconds
   (``talk-000010000``). A manifest line that cannot be used is named ``<manifest stem>-line<N>``.
2. Inputs that share a URI are told apart by what differs between them: the suffix when the files' suffixes
   differ (``clip.flac``, ``clip.mp3``), parent folder names when their folders differ (``x__talk``, ``y__talk``).
3. A URI longer than :data:`MAX_URI_BYTES` (UTF-8) is cut and ends in ``~`` and 8 hex digits of a hash of the
   whole URI, so every output name stays within the 255-byte limit of file systems.
4. A URI whose output names would still equal another input's (the same file listed twice, or ``a.whisperx`` +
   ``json`` against ``a`` + ``whisperx.json``) or a run-level file (a writer's joined output) gets ``-2``, ``-3`` ….

Inputs that cannot be processed (a FIFO, device, dangling symlink, a malformed manifest line) become items with an
:attr:`InputItem.error`; the runner records them as failed and the other inputs run.
"""

from __future__ import annotations

import glob
import hashlib
import json
import math
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from qasr_plugins.audio import AUDIO_SUFFIXES
from qasr_plugins.errors import InputError
from qasr_plugins.graph import PipelineSpec

MANIFEST_SUFFIXES = frozenset({".jsonl", ".json"})
MAX_URI_BYTES = 200
"""The longest URI in bytes: with ``.`` and a writer's suffix (``vad_manifest.jsonl``) a name stays under 255."""
MAX_SECONDS = 1e7
"""The largest manifest ``offset`` or ``duration`` read (about 116 days)."""
_MANIFEST_HINT = "A manifest holds one JSON object per line with 'audio_filepath' (a path) and optional " \
                 "'offset' and 'duration' (seconds)."


@dataclass(frozen=True)
class InputItem:
    """One recording (or one part of it, from a manifest's ``offset``/``duration``) to process.

    Attributes:
        path: The audio file (for an unusable input: the argument or manifest it came from).
        uri: The name of its outputs.
        offset: Where to start reading (seconds).
        duration: How much to read (seconds), or all.
        error: Why this input cannot be processed, or ``None``; the runner records it as the input's failure.
    """

    path: str
    uri: str
    offset: float = 0.0
    duration: float | None = None
    error: InputError | None = None


def _cut(offset: float) -> str:
    return f"-{round(offset * 1000):09d}" if offset else ""  # a cut at 0 s keeps the stem


def _seconds(entry: dict[str, object], key: str, where: str) -> float | None:
    value = entry.get(key)
    if value is None:
        return None
    try:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise TypeError(key)
        seconds = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"has {key!r} {json.dumps(value)[:40]}, not a number of seconds.", where=where,
                         code="I305", hint=_MANIFEST_HINT) from None
    if not (math.isfinite(seconds) and 0 <= seconds <= MAX_SECONDS) or (key == "duration" and seconds == 0):
        raise InputError(f"has {key!r} {value!r}: it must be finite, {'above' if key == 'duration' else 'from'} "
                         f"0 and at most {MAX_SECONDS:.0f} s.", where=where, code="I305", hint=_MANIFEST_HINT)
    return seconds


def _manifest_line(raw: bytes, manifest: Path, where: str) -> InputItem:
    try:
        entry = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"is not UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}).", where=where,
                         code="I305", hint=_MANIFEST_HINT) from None
    except (ValueError, RecursionError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
        raise InputError(f"is not a JSON line ({reason}).", where=where, code="I305", hint=_MANIFEST_HINT) from None
    if not isinstance(entry, dict) or "audio_filepath" not in entry:
        raise InputError("has no 'audio_filepath'.", where=where, code="I305", hint=_MANIFEST_HINT)
    name = entry["audio_filepath"]
    if not isinstance(name, str) or not name.strip() or "\x00" in name:
        raise InputError(f"has 'audio_filepath' {json.dumps(name)[:40]}, not a file path.", where=where,
                         code="I305", hint=_MANIFEST_HINT)
    offset = _seconds(entry, "offset", where) or 0.0
    duration = _seconds(entry, "duration", where)
    audio = Path(name) if Path(name).is_absolute() else manifest.parent / name
    return InputItem(str(audio), (audio.stem or "_") + _cut(offset), offset, duration)


def _manifest(path: Path) -> list[InputItem]:
    """Every line of a manifest as an item; a line that cannot be used is an item with its ``I305`` error."""
    try:
        lines = path.read_bytes().split(b"\n")  # as NeMo reads them: only "\n" ends a line
    except OSError as exc:
        error = InputError(f"cannot be read ({exc.strerror or exc}).", where=str(path), code="I301")
        return [InputItem(str(path), path.stem, error=error)]
    items: list[InputItem] = []
    for number, raw in enumerate(lines, start=1):
        if raw.strip():
            try:
                items.append(_manifest_line(raw, path, f"{path}:{number}"))
            except InputError as exc:
                items.append(InputItem(str(path), f"{path.stem}-line{number}", error=exc))
    return items


def _status(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except (OSError, ValueError):
        return None


def _not_regular(path: Path, found: os.stat_result | None) -> InputItem:
    if found is None:
        reason = "is a dangling symbolic link or a symbolic link loop"
    else:
        reason = "is a " + ("FIFO (named pipe)" if stat.S_ISFIFO(found.st_mode) else
                            "socket" if stat.S_ISSOCK(found.st_mode) else "device or other special file")
    error = InputError(f"{reason}, not a regular file.", where=str(path), code="I314",
                       hint="Give regular audio files; save a stream to a file first.")
    return InputItem(str(path), path.stem or "_", error=error)


def _entries(paths: Sequence[Path]) -> list[InputItem]:
    """Regular files as items, special files as unusable items, directories left out."""
    items: list[InputItem] = []
    for path in paths:
        found = _status(path)
        if found is not None and stat.S_ISREG(found.st_mode):
            items.append(InputItem(str(path), path.stem))
        elif found is None or not stat.S_ISDIR(found.st_mode):
            items.append(_not_regular(path, found))
    return items


def _argument(argument: str) -> list[InputItem]:
    path = Path(argument)
    found = _status(path)
    if found is not None and stat.S_ISDIR(found.st_mode):
        items = _entries(sorted(p for p in path.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES))
        if not items:
            raise InputError("contains no audio files.", where=argument, code="I304",
                             hint="Suffixes read: " + " ".join(sorted(AUDIO_SUFFIXES)) + ".")
        return items
    if found is not None and stat.S_ISREG(found.st_mode):
        return _manifest(path) if path.suffix.lower() in MANIFEST_SUFFIXES else [InputItem(argument, path.stem)]
    if found is not None or os.path.lexists(argument):
        return [_not_regular(path, found)]
    items = _entries([Path(m) for m in sorted(glob.glob(argument, recursive=True))]) \
        if glob.escape(argument) != argument else []
    if not items:
        raise InputError("matches no file.", where=argument, code="I304",
                         hint="Give existing files, directories, glob patterns or a JSONL manifest.")
    return items


def collect_inputs(arguments: Sequence[str], *, spec: PipelineSpec | None = None,
                   keep_going: bool = False) -> list[InputItem]:
    """Expand files, glob patterns, directories (recursively, audio/video suffixes) and manifests.

    Args:
        arguments: Files, directories, glob patterns, ``.jsonl``/``.json`` manifests.
        spec: The pipeline that will run: its writers' suffixes and run-level files are kept from colliding.
        keep_going: Return unusable inputs as items with an :attr:`~InputItem.error` (the runner records them as
            failed) instead of raising the first.

    Raises:
        InputError: ``I304`` when an argument matches nothing; unless ``keep_going``, ``I314`` for a FIFO, device,
            dangling symlink or symlink loop and ``I305`` for a malformed manifest line.
    """
    items = [item for argument in arguments for item in _argument(argument)]
    if not keep_going:
        bad = next((i.error for i in items if i.error is not None), None)
        if bad is not None:
            raise bad
    suffixes = tuple(w.writer_class.suffix for w in spec.writers) if spec else ()
    reserved = {w.writer_class.collect_as for w in spec.writers if w.writer_class.collect_as} if spec else set()
    return _numbered(_bounded(_disambiguated(items)), suffixes, reserved)


def _disambiguated(items: list[InputItem]) -> list[InputItem]:
    """Rule 2: add the suffix and/or parent folder names that differ within each group sharing a URI."""
    groups: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        groups.setdefault(item.uri, []).append(index)
    result = list(items)
    for members in (m for m in groups.values() if len(m) > 1):
        paths = [Path(items[i].path) for i in members]
        with_suffix = len({p.suffix for p in paths}) > 1
        parents = [p.absolute().parent.parts for p in paths]
        depth = 0 if len(set(parents)) == 1 else 1
        while depth and depth < max(map(len, parents)) and len({p[-depth:] for p in parents}) < len(set(parents)):
            depth += 1
        for index, path, parts in zip(members, paths, parents, strict=True):
            uri = items[index].uri
            if with_suffix and uri.startswith(path.stem):
                uri = path.stem + path.suffix + uri[len(path.stem):]
            prefix = "__".join(part.strip("/") for part in parts[len(parts) - depth:] if part.strip("/"))
            result[index] = replace(items[index], uri=f"{prefix}__{uri}" if prefix else uri)
    return result


def _bounded(items: list[InputItem]) -> list[InputItem]:
    """Rule 3: cut URIs over :data:`MAX_URI_BYTES` and end them with a hash of the whole URI."""
    result = []
    for item in items:
        data = item.uri.encode("utf-8")
        if len(data) > MAX_URI_BYTES:
            head = data[:MAX_URI_BYTES - 9].decode("utf-8", errors="ignore")
            item = replace(item, uri=f"{head}~{hashlib.sha1(data).hexdigest()[:8]}")
        result.append(item)
    return result


def _numbered(items: list[InputItem], suffixes: tuple[str, ...], reserved: set[str]) -> list[InputItem]:
    """Rule 4: number a URI whose output names another input (or a run-level file) already has."""
    uris: set[str] = set()
    names = set(reserved)
    result = []
    for item in items:
        uri, number = item.uri, 1
        while uri in uris or any(f"{uri}.{suffix}" in names for suffix in suffixes):
            number += 1
            uri = f"{item.uri}-{number}"
        uris.add(uri)
        names.update(f"{uri}.{suffix}" for suffix in suffixes)
        result.append(replace(item, uri=uri) if uri != item.uri else item)
    return result
