"""The Python API: the same as the CLI, for scripts and notebooks.

    >>> from qasr_plugins import Pipeline
    >>> pipeline = Pipeline.from_config("vad", overrides=["stages.vad.threshold=0.6"])
    >>> document = pipeline("meeting.wav")          # → ResultDocument
    >>> summary = pipeline.run(["corpus/"], "out")  # files, dirs, globs, manifests → DIR/<uri>.<ext>
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qasr_plugins.audio import to_audio
from qasr_plugins.document import ResultDocument
from qasr_plugins.errors import QasrError
from qasr_plugins.graph import PipelineSpec, load_pipeline
from qasr_plugins.inputs import collect_inputs
from qasr_plugins.outdir import check_output_dir
from qasr_plugins.runner import Executor, RunSummary, run_files


class Pipeline:
    """A validated pipeline whose stages load once and are reused for every call."""

    def __init__(self, spec: PipelineSpec) -> None:
        self.spec = spec
        self._executor: Executor | None = None

    @classmethod
    def from_config(cls, pipeline: str | os.PathLike[str] = "vad", overrides: Sequence[str] = (),
                    formats: Sequence[str] | None = None, *, allow_env: bool = False) -> Pipeline:
        """Compose and validate ``pipeline`` (a packaged name or a YAML path) with dotlist ``overrides``;
        ``allow_env`` lets ``${oc.env:VAR}`` read the environment (values so filled are never shown)."""
        return cls(load_pipeline(pipeline, overrides, formats, allow_env=allow_env))

    @property
    def executor(self) -> Executor:
        if self._executor is None:
            self._executor = Executor(self.spec)
        return self._executor

    def load(self) -> Pipeline:
        """Load every model now instead of on first use."""
        self.executor.load()
        return self

    def __call__(self, source: Any, *, uri: str | None = None) -> ResultDocument:
        """Run on one input: a path, an :class:`~qasr_plugins.types.Audio`, ``(array, rate)`` or a pyannote dict.

        Raises:
            QasrError: the coded error that stopped this input.
        """
        result = self.executor.process([to_audio(source, uri=uri)])[0]
        if isinstance(result, QasrError):
            raise result
        return result

    def render(self, document: ResultDocument) -> dict[str, str | bytes]:
        """The configured formats' content for a document, keyed by file suffix."""
        return self.executor.render(document)

    def run(self, inputs: Sequence[str | os.PathLike[str]], output_dir: str | os.PathLike[str], *,
            overwrite: bool = False, progress: bool | None = None) -> RunSummary:
        """Process files, directories, globs or manifests into ``output_dir`` (as ``qasr run``).

        Unusable inputs (a FIFO, a malformed manifest line …) are failed outcomes of the summary; the others run.

        Raises:
            OutputError: ``O505`` when ``output_dir`` cannot be a directory of outputs (checked before any model
                loads).
            InputError: ``I304`` when an input matches nothing.
        """
        check_output_dir(output_dir)
        items = collect_inputs([str(i) for i in inputs], spec=self.spec, keep_going=True)
        return run_files(self.executor, items, Path(output_dir), overwrite=overwrite, progress=progress)

    def describe(self) -> str:
        return self.spec.describe()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.close()

    def _repr_markdown_(self) -> str:
        return "```\n" + self.describe() + "\n```"
