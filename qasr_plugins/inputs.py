"""Turn command-line inputs (files, globs, directories, NeMo JSONL manifests) into a list of work items."""

from __future__ import annotations

import glob
import json
import math
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from qasr_plugins.audio import AUDIO_SUFFIXES
from qasr_plugins.errors import InputError

MANIFEST_SUFFIXES = frozenset({".jsonl", ".json"})


@dataclass(frozen=True)
class InputItem:
    """One recording (or one part of it, from a manifest's ``offset``/``duration``) to process."""

    path: str
    uri: str
    offset: float = 0.0
    duration: float | None = None


def _manifest(path: Path) -> list[InputItem]:
    items: list[InputItem] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"is not a JSON line ({exc.msg}).", where=where, code="I305",
                             hint="A manifest holds one JSON object per line with 'audio_filepath'.") from exc
        if not isinstance(entry, dict) or "audio_filepath" not in entry:
            raise InputError("has no 'audio_filepath'.", where=where, code="I305",
                             hint="A manifest holds one JSON object per line with 'audio_filepath'.")
        audio = Path(entry["audio_filepath"])
        if not audio.is_absolute():
            audio = path.parent / audio
        offset = float(entry.get("offset") or 0.0)
        duration = entry.get("duration")
        duration = None if duration is None else float(duration)
        if offset < 0 or not math.isfinite(offset) or (duration is not None and not duration > 0):
            raise InputError("has a negative offset or a non-positive duration.", where=where, code="I305")
        uri = f"{audio.stem}-{round(offset * 1000):09d}" if offset else audio.stem  # a cut at 0 s keeps the stem
        items.append(InputItem(str(audio), uri, offset, duration))
    return items


def _is_manifest(path: Path) -> bool:
    if path.suffix not in MANIFEST_SUFFIXES:
        return False
    with path.open(encoding="utf-8", errors="replace") as handle:
        first = next((line for line in handle if line.strip()), "")
    return '"audio_filepath"' in first


def collect_inputs(arguments: list[str]) -> list[InputItem]:
    """Expand files, glob patterns, directories (recursively, audio/video suffixes) and manifests.

    URIs are file stems; a manifest line with a non-zero ``offset`` adds it in milliseconds (``talk-000010000``).
    When two inputs share a URI, parent folder names are prepended until they differ.

    Raises:
        InputError: ``I304`` when an argument matches nothing, ``I305`` for a malformed manifest line.
    """
    items: list[InputItem] = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
            if not found:
                raise InputError("contains no audio files.", where=argument, code="I304",
                                 hint="Suffixes read: " + " ".join(sorted(AUDIO_SUFFIXES)) + ".")
            items += [InputItem(str(p), p.stem) for p in found]
        elif path.is_file():
            items += _manifest(path) if _is_manifest(path) else [InputItem(str(path), path.stem)]
        else:
            matches = sorted(glob.glob(argument, recursive=True))
            if not matches:
                raise InputError("matches no file.", where=argument, code="I304",
                                 hint="Give existing files, directories, glob patterns or a JSONL manifest.")
            items += [InputItem(m, Path(m).stem) for m in matches if Path(m).is_file()]
    return _unique_uris(items)


def _unique_uris(items: list[InputItem]) -> list[InputItem]:
    """Prefix colliding URIs with as many parent folder names as it takes to tell them apart."""
    groups: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        groups.setdefault(item.uri, []).append(index)
    result = list(items)
    for uri, members in groups.items():
        if len(members) == 1:
            continue
        parents = [Path(items[i].path).resolve().parent.parts for i in members]
        depth = 1
        while depth < max(len(p) for p in parents) and len({p[-depth:] for p in parents}) < len(members):
            depth += 1
        for index, parts in zip(members, parents, strict=True):
            prefix = "__".join(part.strip("/") for part in parts[-depth:] if part.strip("/"))
            candidate = f"{prefix}__{uri}" if prefix else uri
            result[index] = replace(items[index], uri=candidate)
        taken = Counter(result[i].uri for i in members)
        for number, index in enumerate(members):  # same file listed twice: number the repeats
            if taken[result[index].uri] > 1:
                result[index] = replace(result[index], uri=f"{result[index].uri}-{number + 1}")
    return result
