"""Cache keys: what a node's output is a function of, hashed.

A node's key covers the recording (a hash of its decoded samples, its sample rate, offset and URI), the stage (kind,
registered name, distribution and version, ``cache_version``, and for an editable install the state of its source
files), its resolved settings, its :meth:`~qasr_plugins.stage.Stage.fingerprint` (local model files and other files
it reads) and the keys of the nodes feeding it. Change any of them and the key changes; change nothing else and it
stays. A node whose stage is not cacheable passes on the hash of its actual output instead of a key, so what
depends on it is keyed on what it produced.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Any

import numpy as np

from qasr_plugins.registry import IN_PROCESS
from qasr_plugins.types import Audio

KEY_FORMAT = 1
"""Bump when what a key covers changes: every earlier entry is then a miss."""


def digest(data: Any) -> str:
    """The SHA-256 of ``data``'s canonical JSON (sorted keys, no spaces)."""
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str, allow_nan=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class RecordingId:
    """What identifies a recording's audio for the cache: a hash of its samples and where it sits in its file."""

    samples: str
    sample_rate: int
    offset: float
    uri: str

    @classmethod
    def of(cls, audio: Audio) -> RecordingId:
        waveform = np.ascontiguousarray(audio.waveform, dtype=np.float32)
        hasher = hashlib.sha256()
        hasher.update(str(waveform.shape).encode())
        hasher.update(memoryview(waveform).cast("B"))
        return cls(hasher.hexdigest(), audio.sample_rate, float(audio.offset), audio.uri)

    def to_dict(self) -> dict[str, Any]:
        return {"samples": self.samples, "sample_rate": self.sample_rate, "offset": self.offset, "uri": self.uri}


def output_digest(output: Any) -> str:
    """The hash of a stage output's JSON form (what a non-cacheable node passes on instead of a key)."""
    return "content:" + digest(output.to_dict())


def node_key(stage_identity: Mapping[str, Any], recording: RecordingId, inputs: Mapping[str, str],
             given: Mapping[str, str]) -> str:
    """The cache key of one node's output on one recording.

    Args:
        stage_identity: :func:`stage_identity` of the node's stage.
        recording: The recording it runs on.
        inputs: Port → key (or output digest) of the node feeding it.
        given: Name → digest of each ``given`` value of the pipeline (e.g. a transcript to align).
    """
    return digest({"format": KEY_FORMAT, "stage": stage_identity, "recording": recording.to_dict(),
                   "inputs": dict(inputs), "given": dict(given)})


def stage_identity(kind: str, name: str, dist: str | None, version: str | None, stage: Any) -> dict[str, Any] | None:
    """Everything about a configured stage its outputs depend on, or ``None`` when they cannot be cached: a
    stage that says so (``cacheable = False``), or one no installed distribution provides and that declares no
    ``cache_version`` (nothing would tell its edits apart)."""
    cls = type(stage)
    if not cls.cacheable:
        return None
    from_distribution = dist is not None and dist != IN_PROCESS
    if not from_distribution and cls.cache_version is None:
        return None
    return {"kind": kind, "name": name, "distribution": dist if from_distribution else None, "version": version,
            "cache_version": cls.cache_version, "code": editable_state(dist) if from_distribution else None,
            "settings": stage.config.model_dump(mode="json"), "fingerprint": dict(stage.fingerprint())}


@cache
def editable_state(dist: str) -> str | None:
    """For a distribution installed in development mode (``pip install -e``), where its version does not change
    when its code does: a hash of its Python files' names, sizes and modification times. ``None`` otherwise.
    Computed once per process."""
    try:
        found = distribution(dist)
        direct = json.loads(found.read_text("direct_url.json") or "{}")
    except (PackageNotFoundError, json.JSONDecodeError):
        return None
    if not direct.get("dir_info", {}).get("editable"):
        return None
    url = str(direct.get("url", ""))
    root = Path(url.removeprefix("file://")) if url.startswith("file://") else None
    if root is None or not root.is_dir():
        return None
    files = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in ("node_modules", "__pycache__"))
        for name in sorted(names):
            if name.endswith(".py"):
                stat = os.stat(os.path.join(folder, name))
                files.append((os.path.relpath(os.path.join(folder, name), root), stat.st_size, stat.st_mtime_ns))
    return digest(files)
