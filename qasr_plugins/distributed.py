"""Scale-out on Ray: the same batches as a local run, spread over a pool of Ray actors.

Each actor builds the validated pipeline once (models load once per actor) and processes batches of inputs,
writing each file's outputs and completion record atomically into the shared output directory. The driver holds
the directory as a local run does (one run at a time, temporary files of killed runs removed), plans the run
(skipping inputs whose completion records verify), hands batches to ``ray.util.ActorPool`` and writes the run
summary, also when SIGINT or SIGTERM stops it. Needs the ``ray`` extra and an output
directory every worker can reach (a local disk for a single machine, a shared filesystem for a cluster).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from qasr_plugins.errors import QasrError, StageError
from qasr_plugins.graph import PipelineSpec
from qasr_plugins.inputs import InputItem
from qasr_plugins.rundir import claim, interruptible
from qasr_plugins.runner import FileOutcome, RunInterrupted, RunSummary, batches, finish, plan, report


class PipelineWorker:
    """A Ray actor's state: one loaded pipeline, rebuilt from the driver's composed config (with the paths whose
    values came from the environment, which stay redacted in the actor's provenance and errors too), reading and
    filling the stage cache at ``cache_dir`` when one is given (a directory the actor's machine sees)."""

    def __init__(self, config: dict[str, Any], source: str, env_paths: frozenset[str] = frozenset(),
                 cache_dir: str | None = None) -> None:
        from qasr_plugins.cache import StageCache
        from qasr_plugins.executor import Executor
        from qasr_plugins.graph import validate

        cache = None if cache_dir is None else StageCache(cache_dir)
        self.executor = Executor(validate(config, source=source, env_paths=env_paths), cache)
        if cache is None:
            self.executor.load()

    def process(self, batch: list[InputItem], output_dir: str) -> list[FileOutcome]:
        from qasr_plugins.runner import process_batch

        return list(process_batch(self.executor, batch, Path(output_dir)))


def _unwrap(exc: Exception) -> Exception:
    """The qasr error inside a Ray error, when there is one."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, QasrError) else exc


def run_on_ray(spec: PipelineSpec, items: Sequence[InputItem], output_dir: str | Path, *, workers: int | None = None,
               address: str | None = None, cpus_per_worker: float = 1.0, gpus_per_worker: float = 0.0,
               overwrite: bool = False, progress: bool | None = None, cache_dir: str | Path | None = None,
               log: Callable[[str], None] | None = None) -> RunSummary:
    """Run ``spec`` over ``items`` on Ray (connecting to ``address``, or starting a local Ray); each actor uses the
    stage cache at ``cache_dir`` (shared storage, or each machine's own directory of that name) when given.

    Raises:
        StageError: ``S409`` when the ``ray`` extra is missing; a worker's model-loading error is re-raised as is.
        OutputError: ``O504`` when another run holds ``output_dir``.
        RunInterrupted: After the summary is written, when SIGINT or SIGTERM stopped the run.
    """
    try:
        import ray
    except ImportError as exc:
        raise StageError("Ray is not installed.", where="--ray", code="S409",
                         hint="Install the extra: pip install 'qasr-plugins[ray]'.") from exc
    output_dir = Path(output_dir).resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    log = log or (lambda message: print(message, file=sys.stderr))
    with claim(output_dir) as cleared:
        if cleared:
            log(f"removed {cleared} temporary file(s) left by an interrupted run in {output_dir}")
        work = plan(spec, items, output_dir, overwrite)
        outcomes = dict(work.skipped)
        interrupted = ""
        batched = batches(spec, work.pending)
        if batched and not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
        with interruptible() as received:  # after ray.init, which sets its own SIGTERM handler
            try:
                if batched:
                    _run_pool(spec, batched, output_dir, workers, cpus_per_worker, gpus_per_worker, progress,
                              None if cache_dir is None else str(cache_dir),
                              lambda outcome: outcomes.__setitem__(outcome.uri, work.settle(outcome)), log)
            except KeyboardInterrupt:
                interrupted = received[0] if received else "SIGINT"
            finally:
                summary = finish(spec, items, outcomes, output_dir, interrupted, log)
    if interrupted:
        raise RunInterrupted(summary)
    return summary


def _run_pool(spec: PipelineSpec, work: list[list[InputItem]], output_dir: Path, workers: int | None,
              cpus_per_worker: float, gpus_per_worker: float, progress: bool | None, cache_dir: str | None,
              done: Callable[[FileOutcome], None], log: Callable[[str], None]) -> None:
    """Spread ``work`` over a pool of actors; hand each outcome to ``done``. The actors are killed at the end, so
    none is still writing once the run lets go of the output directory."""
    import ray
    from ray.util import ActorPool
    from tqdm.auto import tqdm

    count = max(1, min(workers or int(ray.available_resources().get("CPU", 1) // cpus_per_worker), len(work)))
    actor = ray.remote(num_cpus=cpus_per_worker, num_gpus=gpus_per_worker)(PipelineWorker)
    actors = [actor.remote(dict(spec.config), spec.source, spec.env_paths, cache_dir) for _ in range(count)]
    bar = tqdm(total=sum(map(len, work)), unit="file", disable=None if progress is None else not progress)
    try:
        for result in ActorPool(actors).map_unordered(lambda a, batch: a.process.remote(batch, str(output_dir)),
                                                      work):
            for outcome in result:
                done(outcome)
                report(outcome, log)
                bar.update(1)
    except ray.exceptions.RayError as exc:
        raise _unwrap(exc) from exc
    finally:
        bar.close()
        for handle in actors:
            ray.kill(handle)
