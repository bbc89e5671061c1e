"""Scale-out on Ray: the same batches as a local run, spread over a pool of Ray actors.

Each actor builds the validated pipeline once (models load once per actor) and processes batches of inputs,
writing each file's outputs atomically into the shared output directory. The driver plans the run (skipping finished
inputs), hands batches to ``ray.util.ActorPool`` and writes the run summary. Needs the ``ray`` extra and an output
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
from qasr_plugins.runner import FileOutcome, RunSummary, batches, finish, plan, report


class PipelineWorker:
    """A Ray actor's state: one loaded pipeline, rebuilt from the driver's composed config."""

    def __init__(self, config: dict[str, Any], source: str) -> None:
        from qasr_plugins.graph import validate
        from qasr_plugins.runner import Executor

        self.executor = Executor(validate(config, source=source))
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
               overwrite: bool = False, progress: bool | None = None,
               log: Callable[[str], None] | None = None) -> RunSummary:
    """Run ``spec`` over ``items`` on Ray (connecting to ``address``, or starting a local Ray).

    Raises:
        StageError: ``S409`` when the ``ray`` extra is missing; a worker's model-loading error is re-raised as is.
    """
    try:
        import ray
        from ray.util import ActorPool
    except ImportError as exc:
        raise StageError("Ray is not installed.", where="--ray", code="S409",
                         hint="Install the extra: pip install 'qasr-plugins[ray]'.") from exc
    from tqdm.auto import tqdm

    output_dir = Path(output_dir).resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    log = log or (lambda message: print(message, file=sys.stderr))
    outcomes, pending = plan(spec, items, output_dir, overwrite)
    work = batches(spec, pending)
    if work:
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False,
                     configure_logging=False)
        count = max(1, min(workers or int(ray.available_resources().get("CPU", 1) // cpus_per_worker), len(work)))
        actor = ray.remote(num_cpus=cpus_per_worker, num_gpus=gpus_per_worker)(PipelineWorker)
        pool = ActorPool([actor.remote(dict(spec.config), spec.source) for _ in range(count)])
        bar = tqdm(total=len(pending), unit="file", disable=None if progress is None else not progress)
        try:
            for result in pool.map_unordered(lambda a, batch: a.process.remote(batch, str(output_dir)), work):
                for outcome in result:
                    outcomes[outcome.uri] = outcome
                    report(outcome, log)
                    bar.update(1)
        except ray.exceptions.RayError as exc:
            raise _unwrap(exc) from exc
        finally:
            bar.close()
    return finish(spec, items, outcomes, output_dir)
