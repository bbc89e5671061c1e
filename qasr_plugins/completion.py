"""Completion records: how a rerun knows an input's outputs are complete, intact and made by this pipeline.

When every output of an input is written, the runner writes its completion record last:
``DIR/.qasr/done/<uri>.json`` holds, per output, its name (relative to ``DIR``), size, sha256 and the digest of the
pipeline that made it (every node's stage, wiring and ``config.digest()``, plus the writer's settings). An input is
complete only when its record reads, lists exactly the outputs the pipeline now writes with the same digests, and
every file still has the recorded size and hash. Anything else is redone, and the reason is kept:
:data:`INCOMPLETE` (outputs without a record: a run stopped between them), :data:`MISSING` (a recorded output is
gone), :data:`CORRUPT` (a truncated, empty or changed output, an unreadable record) or :data:`CHANGED` (another
stage, wiring or setting).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from qasr_plugins.atomic import write_atomic
from qasr_plugins.graph import PipelineSpec, WriterSpec
from qasr_plugins.rundir import STATE_DIR

RECORDS_DIR = "done"
COMPLETE = "complete"
NEW = "new"
INCOMPLETE = "incomplete outputs"
MISSING = "missing output"
CORRUPT = "corrupt output"
CHANGED = "pipeline changed"


@dataclass(frozen=True)
class OutputRecord:
    """One finished output as its completion record lists it.

    Attributes:
        name: The file's path relative to the output directory.
        size: Its size in bytes.
        sha256: The hex sha256 of its content.
        digest: :func:`output_digest` of the pipeline and writer that made it.
    """

    name: str
    size: int
    sha256: str
    digest: str


def _hash(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def graph_digest(spec: PipelineSpec) -> str:
    """A short hash of what decides a document: each node's name, kind, stage, inputs and settings digest."""
    return _hash({"nodes": [[n.name, n.kind, n.stage_name, dict(n.inputs), n.config.digest()] for n in spec.nodes],
                  "given": [[g.name, g.part] for g in spec.given], "transcript": spec.transcript_node})


def output_digest(spec: PipelineSpec, writer: WriterSpec) -> str:
    """A short hash of what decides one output file: the graph and that writer's format and settings."""
    return _hash([graph_digest(spec), writer.format, writer.writer_class.suffix, writer.config.digest()])


def record_path(output_dir: Path, uri: str) -> Path:
    """Where the completion record of ``uri`` lives."""
    return output_dir / STATE_DIR / RECORDS_DIR / f"{uri}.json"


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_record(spec: PipelineSpec, output_dir: Path, uri: str, source: str, written: Sequence[Path]) -> Path:
    """Record ``written`` (every output of ``uri``, one per writer in order, already in place) as complete. Call it
    after the last output.

    Raises:
        OutputError: ``O501`` when the record cannot be written.
    """
    outputs = [asdict(OutputRecord(str(path.relative_to(output_dir)), path.stat().st_size, _file_sha256(path),
                                   output_digest(spec, writer)))
               for writer, path in zip(spec.writers, written, strict=True)]
    record = {"uri": uri, "source": source, "pipeline": spec.name, "graph": graph_digest(spec), "outputs": outputs}
    return write_atomic(record_path(output_dir, uri), json.dumps(record, indent=2, ensure_ascii=False))


def forget(output_dir: Path, uri: str) -> None:
    """Drop the completion record of ``uri`` (before its outputs are rewritten)."""
    record_path(output_dir, uri).unlink(missing_ok=True)


def _read(path: Path) -> list[OutputRecord] | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        return [OutputRecord(str(o["name"]), int(o["size"]), str(o["sha256"]), str(o["digest"]))
                for o in record["outputs"]]
    except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError):
        return None


def status(spec: PipelineSpec, output_dir: Path, uri: str, paths: Sequence[Path]) -> str:
    """:data:`COMPLETE`, :data:`NEW` (nothing written yet), or why the outputs of ``uri`` must be redone.

    Args:
        spec: The pipeline of this run.
        output_dir: The run's output directory.
        uri: The input.
        paths: Where this run writes the outputs of ``uri``, one per writer of ``spec`` in order.
    """
    expected = {str(p.relative_to(output_dir)): output_digest(spec, w)
                for w, p in zip(spec.writers, paths, strict=True)}
    path = record_path(output_dir, uri)
    if not path.is_file():
        return INCOMPLETE if any((output_dir / name).exists() for name in expected) else NEW
    outputs = _read(path)
    if outputs is None:
        return CORRUPT
    if {o.name: o.digest for o in outputs} != expected:
        return CHANGED
    for output in outputs:
        file = output_dir / output.name
        if not file.is_file():
            return MISSING
        try:
            if file.stat().st_size != output.size or _file_sha256(file) != output.sha256:
                return CORRUPT
        except OSError:
            return CORRUPT
    return COMPLETE
