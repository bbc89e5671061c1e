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
from typing import Any

from qasr_plugins.atomic import write_atomic
from qasr_plugins.audio import load_audio
from qasr_plugins.completion import COMPLETE, NEW, forget, status, write_record
from qasr_plugins.document import AudioInfo, ResultDocument
from qasr_plugins.errors import InputError, OutputError, QasrError, StageError
from qasr_plugins.graph import NodeSpec, PipelineSpec
from qasr_plugins.inputs import InputItem
from qasr_plugins.outcomes import FileOutcome, Plan, RunInterrupted, RunSummary
from qasr_plugins.rundir import STATE_DIR, claim, interruptible
from qasr_plugins.stage import KINDS, Stage, Writer
from qasr_plugins.types import Audio, StageRecord

SUMMARY_FILE = f"{STATE_DIR}/summary.json"
"""The run summary, relative to the output directory: beside no input's outputs, so none can collide with it."""
ERRORS_DIR = f"{STATE_DIR}/errors"
"""Where a failed input's ``<uri>.json`` error file goes, relative to the output directory."""


def _version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("qasr-plugins")
    except PackageNotFoundError:
        return None


class Executor:
    """Runs a :class:`PipelineSpec`'s stages on in-memory audio. Stages are built and loaded once."""

    def __init__(self, spec: PipelineSpec) -> None:
        self.spec = spec
        self.stages: dict[str, Stage[Any, Any]] = {n.name: n.stage_class(n.config) for n in spec.nodes}
        self.writers: dict[str, Writer] = {w.format: w.writer_class(w.config) for w in spec.writers}
        self._qasr_version = _version()

    def load(self) -> None:
        """Load every stage's models now (otherwise they load on first use)."""
        for node in self.spec.nodes:
            try:
                self.stages[node.name].ensure_loaded()
            except QasrError as exc:
                raise exc.located(node.settings_path) from exc
            except Exception as exc:
                raise StageError(f"stage {node.stage_name!r} failed to load: {type(exc).__name__}: {exc}",
                                 where=node.settings_path, code="S402",
                                 hint="Check the model settings of this stage.") from exc

    def close(self) -> None:
        for stage in self.stages.values():
            stage.close()

    def _inputs(self, node: NodeSpec, audio: Audio, values: dict[str, Any]) -> Any:
        kwargs = {port: values[src] for port, src in node.inputs.items()}
        if KINDS[node.kind].needs_audio:
            kwargs["audio"] = audio
        return node.stage_class.Input(**kwargs)

    def _call(self, node: NodeSpec, batch: list[Any]) -> list[Any]:
        stage = self.stages[node.name]
        try:
            stage.ensure_loaded()
            outputs = stage.process(batch)
        except QasrError as exc:  # a stage's ``where`` is relative to its settings: add the node's path
            raise exc.located(node.settings_path) from exc
        if len(outputs) != len(batch):
            raise StageError(f"returned {len(outputs)} outputs for {len(batch)} inputs.", where=f"graph.{node.name}",
                             code="S403", hint=f"Fix {node.stage_name}: process() returns one output per input.")
        for out in outputs:
            if not isinstance(out, node.stage_class.Output):
                raise StageError(f"returned {type(out).__name__}, not {node.stage_class.Output.__name__}.",
                                 where=f"graph.{node.name}", code="S403",
                                 hint=f"Fix {node.stage_name}: its output type is declared by its kind.")
        return outputs

    def process(self, audios: Sequence[Audio], on_stage: Callable[[str], None] | None = None,
                given: Sequence[Mapping[str, Any]] | None = None) -> list[ResultDocument | QasrError]:
        """Run the graph on each audio; return a document, or the error that stopped that file.

        Args:
            audios: One recording per file.
            on_stage: Called with each node's name before it runs.
            given: Per audio, the values of the pipeline's ``given`` section by name (e.g. the transcript to align).

        Raises:
            InputError: ``I304`` when ``given`` lacks a value the pipeline declares, or one is of the wrong type.
        """
        values: list[dict[str, Any]] = [self._given(given[i] if given else {}) for i in range(len(audios))]
        records: list[list[StageRecord]] = [[] for _ in audios]
        failures: dict[int, QasrError] = {}
        for node in self.spec.nodes:
            if on_stage:
                on_stage(node.name)
            alive = [i for i in range(len(audios)) if i not in failures]
            if not alive:
                break
            results, seconds = self._run_node(node, [(i, audios[i], values[i]) for i in alive], failures)
            for index, output in results.items():
                values[index][node.name] = output
                records[index].append(self._record(node, seconds[index]))
        return [failures.get(i) or self._document(audio, values[i], records[i]) for i, audio in enumerate(audios)]

    def _given(self, supplied: Mapping[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for spec in self.spec.given:
            value = supplied.get(spec.name)
            if not isinstance(value, spec.type):
                raise InputError(f"the given value {spec.name!r} must be a {spec.type.__name__}, got "
                                 f"{type(value).__name__}.", where=f"given.{spec.name}", code="I304",
                                 hint="Pass it with each input: process(audios, given=[{name: value}, ...]).")
            values[spec.name] = value
        return values

    def _run_node(self, node: NodeSpec, work: list[tuple[int, Audio, dict[str, Any]]],
                  failures: dict[int, QasrError]) -> tuple[dict[int, Any], dict[int, float]]:
        started = time.perf_counter()
        try:
            outputs = self._call(node, [self._inputs(node, audio, vals) for _, audio, vals in work])
            share = (time.perf_counter() - started) / len(work)
            return {i: out for (i, _, _), out in zip(work, outputs, strict=True)}, {i: share for i, _, _ in work}
        except Exception as exc:  # noqa: BLE001 - isolate the failing file(s) below
            if len(work) == 1:
                failures[work[0][0]] = self._stage_error(node, work[0][1], exc)
                return {}, {}
        results: dict[int, Any] = {}
        seconds: dict[int, float] = {}
        for index, audio, vals in work:
            started = time.perf_counter()
            try:
                results[index] = self._call(node, [self._inputs(node, audio, vals)])[0]
                seconds[index] = time.perf_counter() - started
            except Exception as exc:  # noqa: BLE001 - recorded per file; the batch goes on
                failures[index] = self._stage_error(node, audio, exc)
        return results, seconds

    @staticmethod
    def _stage_error(node: NodeSpec, audio: Audio, exc: BaseException) -> QasrError:
        if isinstance(exc, QasrError):
            return exc
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return StageError(f"node {node.name!r} ({node.kind} {node.stage_name}) failed: {detail}",
                          where=audio.path or audio.uri, code="S401",
                          hint="See the traceback with --debug; other files are unaffected.")

    def _record(self, node: NodeSpec, seconds: float) -> StageRecord:
        stage = self.stages[node.name]
        return StageRecord(node=node.name, kind=node.kind, name=node.stage_name,
                           distribution=node.entry.distribution, version=node.entry.version,
                           model=stage.model_id(), config_hash=node.config.digest(), wall_time=seconds,
                           settings=self.spec.public_settings(node.settings_path, node.config))

    def _document(self, audio: Audio, values: dict[str, Any], records: list[StageRecord]) -> ResultDocument:
        def first(kind: str) -> Any:
            return next((values[n.name] for n in self.spec.nodes if n.kind == kind and n.name in values), None)

        transcript = values.get(self.spec.transcript_node) if self.spec.transcript_node else None
        return ResultDocument(uri=audio.uri, audio=AudioInfo(audio.path, audio.duration, audio.sample_rate,
                                                             audio.offset, audio.warnings),
                              speech=first("vad"), diarization=first("diarization"), transcript=transcript,
                              provenance=tuple(records), pipeline=self.spec.name, qasr_version=self._qasr_version)

    def bind(self, output_dir: Path) -> None:
        """Tell every writer where this run writes and which sibling writers it has."""
        for writer in self.writers.values():
            writer.bind(output_dir, self.writers)

    def render(self, document: ResultDocument) -> dict[str, str | bytes]:
        """Every configured format's content for one document, keyed by file suffix."""
        return {writer.suffix: writer.render(document) for writer in self.writers.values()}


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
            if work.pending:  # after taking the directory: a refused run loads no model
                executor.load()
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
    except Exception as exc:  # noqa: BLE001 - isolated below
        if len(audios) == 1:
            return [_unexpected(exc, items[0], "processing")]
    results: list[ResultDocument | QasrError] = []
    for audio, item in zip(audios, items, strict=True):
        try:
            results.extend(executor.process([audio], on_stage=on_stage))
        except Exception as exc:  # noqa: BLE001 - recorded as this file's failure
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
