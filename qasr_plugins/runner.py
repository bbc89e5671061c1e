"""Execute a validated pipeline over one recording or thousands.

Stages are built and loaded once per run. Files go through the graph in small batches (``run.batch_files``) so a
stage can batch model calls across files; a stage failure is retried file by file so one bad file never costs the
others their results. Each finished file's outputs are written atomically before the next batch starts.
"""

from __future__ import annotations

import json
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from qasr_plugins.atomic import write_atomic
from qasr_plugins.audio import load_audio
from qasr_plugins.completion import COMPLETE, NEW, forget, status, write_record
from qasr_plugins.document import ResultDocument
from qasr_plugins.errors import OutputError, QasrError, StageError
from qasr_plugins.executor import Executor
from qasr_plugins.graph import PipelineSpec
from qasr_plugins.inputs import InputItem
from qasr_plugins.outcomes import FileOutcome, Plan, RunInterrupted, RunSummary
from qasr_plugins.rundir import STATE_DIR, claim, interruptible
from qasr_plugins.types import Audio

SUMMARY_FILE = f"{STATE_DIR}/summary.json"
"""The run summary, relative to the output directory: beside no input's outputs, so none can collide with it."""
ERRORS_DIR = f"{STATE_DIR}/errors"
"""Where a failed input's ``<uri>.json`` error file goes, relative to the output directory."""


def output_paths(spec: PipelineSpec, output_dir: Path, uri: str) -> list[Path]:
    return [output_dir / f"{uri}.{w.writer_class.suffix}" for w in spec.writers]


def plan(spec: PipelineSpec, items: Sequence[InputItem], output_dir: Path, overwrite: bool = False) -> Plan:
    """Split ``items`` into those whose outputs are complete (skipped) and those still to process.

    Complete means the input's completion record verifies (:func:`qasr_plugins.completion.status`): every output
    there, intact and made by this pipeline. ``overwrite`` redoes every input.
    """
    skipped: dict[str, FileOutcome] = {}
    pending: list[InputItem] = []
    redo: dict[str, str] = {}
    for item in items:
        paths = output_paths(spec, output_dir, item.uri)
        state = NEW if overwrite or not paths else status(spec, output_dir, item.uri, paths)
        if state == COMPLETE:
            skipped[item.uri] = FileOutcome(item.uri, item.path, "skipped", tuple(map(str, paths)))
            continue
        pending.append(item)
        if state != NEW:
            redo[item.uri] = state
    return Plan(skipped, tuple(pending), redo)


def batches(spec: PipelineSpec, pending: Sequence[InputItem]) -> list[list[InputItem]]:
    return [list(pending[i:i + spec.batch_files]) for i in range(0, len(pending), spec.batch_files)]


def error_path(output_dir: Path, uri: str) -> Path:
    """The error file of a failed input: ``DIR/.qasr/errors/<uri>.json``."""
    return output_dir / ERRORS_DIR / f"{uri}.json"


def report(outcome: FileOutcome, log: Callable[[str], None]) -> None:
    for warning in outcome.warnings:
        log(f"WARNING {outcome.source}: {warning}")
    if outcome.status == "failed" and outcome.error:
        log(f"FAILED {outcome.source}: [{outcome.error['code']}] {outcome.error['message']}")


def finish(spec: PipelineSpec, items: Sequence[InputItem], outcomes: Mapping[str, FileOutcome], output_dir: Path,
           interrupted: str = "", log: Callable[[str], None] | None = None) -> RunSummary:
    """Write the run-level files (joined outputs of collecting writers, the summary) and return the summary.

    A run-level file that cannot be written is logged and kept in the summary's ``errors``; it never hides what
    happened to the inputs.
    """
    log = log or (lambda message: print(message, file=sys.stderr))
    ordered = tuple(outcomes[i.uri] for i in items if i.uri in outcomes)
    errors: list[dict[str, str]] = []
    try:
        _collect(spec, output_dir)
    except OutputError as exc:
        errors.append(exc.to_dict())
        log(f"error: {exc.render()}")
    summary = RunSummary(ordered, interrupted, len(items) - len(ordered), tuple(errors))
    try:
        write_atomic(output_dir / SUMMARY_FILE, json.dumps(
            {"pipeline": spec.name, "summary": summary.line(), "interrupted": interrupted or None,
             "not_started": summary.not_started, "errors": errors,
             "files": [o.to_dict() for o in ordered]}, indent=2, ensure_ascii=False))
    except OutputError as exc:
        log(f"error: {exc.render()}")
        summary = replace(summary, errors=(*summary.errors, exc.to_dict()))
    return summary


def run_files(executor: Executor, items: Sequence[InputItem], output_dir: str | Path, *, overwrite: bool = False,
              progress: bool | None = None, log: Callable[[str], None] | None = None) -> RunSummary:
    """Process ``items`` into ``output_dir``; never stops at a failing file.

    The run holds the directory (:func:`qasr_plugins.rundir.claim`: one run at a time, temporary files of killed
    runs removed), then loads the stages if any input is to be processed. A rerun skips items whose completion
    records verify and redoes the others (``overwrite`` redoes all). Failures leave ``.qasr/errors/<uri>.json`` with the coded error; a run summary is written to
    ``.qasr/summary.json``, also when SIGINT or SIGTERM stops the run.

    Raises:
        OutputError: ``O504`` when another run holds ``output_dir``.
        StageError: ``S402`` when a stage fails to load.
        RunInterrupted: After the summary is written, when SIGINT or SIGTERM stopped the run.
    """
    from tqdm.auto import tqdm

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    log = log or (lambda message: print(message, file=sys.stderr))
    with claim(output_dir) as cleared, interruptible() as received:
        if cleared:
            log(f"removed {cleared} temporary file(s) left by an interrupted run in {output_dir}")
        work = plan(executor.spec, items, output_dir, overwrite)
        outcomes = dict(work.skipped)
        interrupted = ""
        bar = tqdm(total=len(work.pending), unit="file", disable=None if progress is None else not progress,
                   dynamic_ncols=True)
        try:
            if work.pending and executor.cache is None:  # after taking the directory: a refused run loads no
                executor.load()  # model; with a cache, a stage loads when an output is not cached
            for batch in batches(executor.spec, work.pending):
                for outcome in process_batch(executor, batch, output_dir, lambda node: bar.set_postfix_str(node)):
                    outcomes[outcome.uri] = work.settle(outcome)
                    report(outcome, log)
                    bar.update(1)
        except KeyboardInterrupt:
            interrupted = received[0] if received else signal.SIGINT.name
        finally:
            bar.close()
            summary = finish(executor.spec, items, outcomes, output_dir, interrupted, log)
    if interrupted:
        raise RunInterrupted(summary)
    return summary


def process_batch(executor: Executor, batch: Sequence[InputItem], output_dir: Path,
                  on_stage: Callable[[str], None] | None = None) -> Iterable[FileOutcome]:
    """Load, process and write one batch of inputs; yield each input's outcome as it is known."""
    started = time.perf_counter()
    executor.bind(output_dir)
    audios: list[Audio] = []
    loaded: list[InputItem] = []
    for item in batch:
        try:
            if item.error is not None:
                raise item.error
            audios.append(load_audio(item.path, uri=item.uri, offset=item.offset, duration=item.duration))
            loaded.append(item)
        except Exception as exc:  # noqa: BLE001 - one unreadable input never stops the batch
            yield _failed(item, _unexpected(exc, item, "reading"), output_dir, started)
    if not audios:
        return
    results = _process(executor, audios, loaded, on_stage)
    for item, audio, result in zip(loaded, audios, results, strict=True):
        if isinstance(result, QasrError):
            yield _failed(item, result, output_dir, started)
            continue
        try:
            forget(output_dir, item.uri)
            written = write_document(executor, result, output_dir)
            write_record(executor.spec, output_dir, item.uri, item.path, written)
        except OutputError as exc:
            if exc.code == "O501":  # name the input whose output could not be written
                exc = exc.replace(where=item.path, message=f"output {exc.where}: {exc.message}")
            yield _failed(item, exc, output_dir, started)
            continue
        except QasrError as exc:
            yield _failed(item, exc, output_dir, started)
            continue
        except Exception as exc:  # noqa: BLE001 - a writer bug must not cost other files their outputs
            yield _failed(item, OutputError(f"a writer failed: {type(exc).__name__}: {exc}", where=item.path,
                                            code="O502"), output_dir, started)
            continue
        error_path(output_dir, item.uri).unlink(missing_ok=True)
        yield FileOutcome(item.uri, item.path, "done", tuple(map(str, written)), None,
                          time.perf_counter() - started, warnings=audio.warnings)


def _unexpected(exc: Exception, item: InputItem, doing: str) -> QasrError:
    """``exc`` when it is coded, else an ``S408`` naming its type and message."""
    if isinstance(exc, QasrError):
        return exc
    detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return StageError(f"unexpected error while {doing} this input: {detail}", where=item.path, code="S408",
                      hint="Please report it; other inputs are unaffected.")


def _process(executor: Executor, audios: list[Audio], items: list[InputItem],
             on_stage: Callable[[str], None] | None) -> list[ResultDocument | QasrError]:
    """:meth:`Executor.process` on the batch; when that raises, file by file, so only the failing file fails."""
    try:
        return executor.process(audios, on_stage=on_stage)
    except Exception as exc:
        if exc is executor.load_failure:
            raise
        if len(audios) == 1:
            return [_unexpected(exc, items[0], "processing")]
    results: list[ResultDocument | QasrError] = []
    for audio, item in zip(audios, items, strict=True):
        try:
            results.extend(executor.process([audio], on_stage=on_stage))
        except Exception as exc:
            if exc is executor.load_failure:
                raise
            results.append(_unexpected(exc, item, "processing"))
    return results


def write_document(executor: Executor, document: ResultDocument, output_dir: Path) -> list[Path]:
    """Write every configured format of ``document`` to ``output_dir/<uri>.<suffix>`` atomically."""
    return [write_atomic(output_dir / f"{document.uri}.{suffix}", content)
            for suffix, content in executor.render(document).items()]


def _failed(item: InputItem, error: QasrError, output_dir: Path, started: float) -> FileOutcome:
    """The failed outcome of ``item``; its error file is written when it can be (a full disk keeps the outcome)."""
    record = {"uri": item.uri, "source": item.path, "error": error.to_dict()}
    warnings: tuple[str, ...] = ()
    try:
        write_atomic(error_path(output_dir, item.uri), json.dumps(record, indent=2, ensure_ascii=False))
    except OutputError as exc:
        warnings = (f"its error file was not written: {exc.render()}",)
    return FileOutcome(item.uri, item.path, "failed", (), error.to_dict(), time.perf_counter() - started,
                       warnings=warnings)


def _collect(spec: PipelineSpec, output_dir: Path) -> None:
    """Join per-file outputs of collecting writers (e.g. one manifest for the run) into one file."""
    for writer in (w.writer_class for w in spec.writers):
        if writer.collect_as:
            parts = sorted(p for p in output_dir.glob(f"*.{writer.suffix}") if p.name != writer.collect_as)
            text = "".join(p.read_text(encoding="utf-8").rstrip("\n") + "\n" for p in parts)
            write_atomic(output_dir / writer.collect_as, text)
