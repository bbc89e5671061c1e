"""The Python API: the same as the CLI, for scripts and notebooks.

    >>> from qasr_plugins import Pipeline
    >>> pipeline = Pipeline.from_config("vad", overrides=["stages.vad.threshold=0.6"])
    >>> energy = pipeline.replace("vad", "energy")    # a preset (or a registered stage name) swapped in
    >>> document = pipeline("meeting.wav")          # → ResultDocument
    >>> document.timings                            # node → seconds
    >>> summary = pipeline.run(["corpus/"], "out")  # files, dirs, globs, manifests → DIR/<uri>.<ext>
    >>> document.cache                              # node → "hit" / "miss": what the stage cache reused

A pipeline keeps the config it came from and its overrides, so :meth:`Pipeline.replace` and
:meth:`Pipeline.with_overrides` compose on top of them and validate a new pipeline; the original is unchanged.
Pipelines share the stage cache (by default in the user cache directory, see
:func:`qasr_plugins.cache.default_cache_dir`): a pipeline with one stage swapped reruns that node and what depends
on it, and reuses the rest.
"""

from __future__ import annotations

import json
import numbers
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from qasr_plugins.audio import to_audio
from qasr_plugins.cache import RecordingId, StageCache, open_cache
from qasr_plugins.document import ResultDocument
from qasr_plugins.errors import ConfigError, QasrError, did_you_mean
from qasr_plugins.executor import Executor
from qasr_plugins.graph import PipelineSpec, available_presets, load_pipeline
from qasr_plugins.inputs import collect_inputs
from qasr_plugins.outdir import check_output_dir
from qasr_plugins.runner import RunSummary, run_files

#: What a pipeline can be built from: a packaged name, a YAML path, or the config itself (a dict or DictConfig).
PipelineSource = str | os.PathLike[str] | Mapping[str, Any]
#: Which stage cache a pipeline uses (see :func:`qasr_plugins.cache.open_cache`).
CacheChoice = bool | str | os.PathLike[str] | StageCache | None


class Pipeline:
    """A validated pipeline whose stages load once and are reused for every call.

    Attributes:
        spec: The validated graph.
        source: The pipeline it was composed from (a name, a path or a mapping).
        overrides: The dotlist overrides applied on top of ``source``.
        cache: The stage cache its runs read and fill, or ``None``.
    """

    def __init__(self, spec: PipelineSpec, source: PipelineSource | None = None, overrides: Sequence[str] = (),
                 formats: Sequence[str] | None = None, *, allow_env: bool = False, cache: CacheChoice = True,
                 known_speakers: Mapping[str, list[str]] | None = None) -> None:
        self.spec = spec
        self.source: PipelineSource = dict(spec.config) if source is None else source
        self.overrides: tuple[str, ...] = tuple(overrides)
        self.known_speakers = None if known_speakers is None else dict(known_speakers)
        self.cache = open_cache(cache)
        self._formats = None if formats is None else tuple(formats)
        self._allow_env = allow_env
        self._executor: Executor | None = None
        #: The recordings of the last call (kept by derived pipelines), to show which nodes would be cache hits.
        self._recent: tuple[RecordingId, ...] = ()

    @classmethod
    def from_config(cls, pipeline: PipelineSource = "vad", overrides: Sequence[str] = (),
                    formats: Sequence[str] | None = None, *, allow_env: bool = False,
                    cache: CacheChoice = True, known_speakers: Mapping[str, Any] | None = None) -> Pipeline:
        """Compose and validate ``pipeline`` with dotlist ``overrides``.

        Args:
            pipeline: A packaged name, a YAML path, or the pipeline config as a ``dict`` or OmegaConf
                ``DictConfig`` (its ``defaults`` list and ``graph`` are composed and validated like a file's).
            overrides: Dotlist overrides (``stages.vad.threshold=0.6``, ``stages/asr=<preset>``,
                ``stages/asr=@<stage>``).
            formats: Replaces ``outputs.formats`` when given.
            allow_env: Let ``${oc.env:VAR}`` read the environment (values so filled are never shown).
            cache: The stage cache: ``True`` (default) the user's (``$QASR_STAGE_CACHE``, else
                ``~/.cache/qasr/stages``), a directory, a :class:`~qasr_plugins.cache.StageCache`, or ``False``.
            known_speakers: Name → reference clip(s) of that speaker alone (2-30 s each: paths, or in-memory
                audio as :class:`~qasr_plugins.types.Audio`, ``(array, rate)`` or a pyannote dict); the diarized
                speakers whose voices match are called by these names (the config's ``known_speakers`` section,
                see ``docs/speakers.md``).

        Raises:
            ConfigError: The coded composition or validation error (several at once as ``ConfigErrors``).
        """
        source = _plain(pipeline)
        speakers = None if known_speakers is None else _reference_paths(known_speakers)
        spec = load_pipeline(source, overrides, formats, allow_env=allow_env, known_speakers=speakers)
        return cls(spec, source, overrides, formats, allow_env=allow_env, cache=cache, known_speakers=speakers)

    def _derived(self, overrides: Sequence[str], known_speakers: Mapping[str, Any] | None) -> Pipeline:
        """This pipeline's source with ``overrides`` and ``known_speakers``, sharing its cache and its recent
        recordings."""
        pipeline = Pipeline.from_config(self.source, overrides, self._formats, allow_env=self._allow_env,
                                        cache=self.cache or False, known_speakers=known_speakers)
        pipeline._recent = self._recent
        return pipeline

    def with_known_speakers(self, known_speakers: Mapping[str, Any]) -> Pipeline:
        """A new validated pipeline whose diarized speakers are named after ``known_speakers`` (name → clip or
        clips, as in :meth:`from_config`) instead of those given to this one in Python; the config's own
        ``known_speakers`` section, if any, still counts.

        Raises:
            ConfigError: ``C163`` when the graph has no one diarization node to name; ``C160``-``C162`` for the clips.
        """
        return self._derived(self.overrides, known_speakers)

    def with_overrides(self, overrides: Sequence[str]) -> Pipeline:
        """A new validated pipeline: this one's source and overrides, then ``overrides``.

        Raises:
            ConfigError: When the result does not compose or validate (this pipeline is unchanged).
        """
        if isinstance(overrides, str):
            overrides = [overrides]
        return self._derived([*self.overrides, *overrides], self.known_speakers)

    def replace(self, node: str, stage: str, **settings: Any) -> Pipeline:
        """A new validated pipeline whose node ``node`` has new settings: ``stage`` names a preset of the node's
        kind (``faster_whisper_large_v3``) or a registered stage (``energy.vad``, run with its own defaults), and
        ``settings`` apply on top. The node's previous settings are all dropped, and so are this pipeline's
        overrides of them.

        Raises:
            ConfigError: ``C105`` when the graph has no node ``node``; otherwise the validation error.
        """
        found = next((n for n in self.spec.nodes if n.name == node), None)
        if found is None:
            names = [n.name for n in self.spec.nodes]
            raise ConfigError(f"the pipeline has no node {node!r}.", where=self.spec.source or self.spec.name,
                              code="C105", hint=did_you_mean(node, names) + " Nodes: " + ", ".join(names) + ".")
        key = found.settings_path
        group = f"stages/{found.kind}" + ("" if key == f"stages.{found.kind}" else f"@{key}")
        swap = f"{group}={stage}" if stage in available_presets(found.kind) else f"{key}=@{stage}"
        kept = [o for o in self.overrides if not _targets(o, key, group)]
        return self._derived([*kept, swap, *(f"{key}.{name}={_override_value(v)}" for name, v in settings.items())],
                             self.known_speakers)

    @property
    def executor(self) -> Executor:
        if self._executor is None:
            self._executor = Executor(self.spec, self.cache)
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
        audio = to_audio(source, uri=uri)
        result = self.executor.process([audio])[0]
        if self.cache is not None:
            self._recent = (RecordingId.of(audio),)
        if isinstance(result, QasrError):
            raise result
        return result

    def cached_nodes(self) -> dict[str, bool]:
        """For the recording this pipeline (or the one it was derived from) last ran on, whether each node's output
        is in the cache: what a call on it again would reuse. Empty before any call or without a cache."""
        if not self._recent:
            return {}
        return self.executor.cached_nodes(self._recent[-1])

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
        """The validated graph as text: nodes in execution order, their stages, inputs and every setting."""
        return self.spec.describe()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.close()

    def __repr__(self) -> str:
        cached = self.cached_nodes()
        if not cached:
            return self.describe()
        reused = ", ".join(node for node, hit in cached.items() if hit) or "none"
        rerun = ", ".join(node for node, hit in cached.items() if not hit) or "none"
        return f"{self.describe()}\ncache for {self._recent[-1].uri}: reused {reused}; would run {rerun}"

    def _repr_html_(self) -> str:
        from qasr_plugins.display.graph import pipeline_html

        return pipeline_html(self.spec, self.cached_nodes())


def _plain(pipeline: PipelineSource) -> PipelineSource:
    """A ``DictConfig`` as a plain dict (interpolations kept, for composition to resolve); anything else as is."""
    if isinstance(pipeline, Mapping) and type(pipeline).__module__.startswith("omegaconf"):
        from omegaconf import OmegaConf

        data = OmegaConf.to_container(pipeline, resolve=False)  # type: ignore[arg-type]
        assert isinstance(data, dict)
        return data
    return pipeline


def _reference_paths(known_speakers: Mapping[str, Any]) -> dict[str, list[str]]:
    """Each name's clips as paths; in-memory clips are written once to qasr's cache (``speakers/<hash>.wav``)."""
    from qasr_plugins.audio import clip_file
    from qasr_plugins.cachedir import cache_root

    def clips(value: Any) -> list[Any]:
        pair = isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], numbers.Integral)
        single = pair or isinstance(value, (str, os.PathLike, Mapping)) or not isinstance(value, Sequence)
        return [value] if single else list(value)

    return {str(name): [clip_file(clip, cache_root() / "speakers", f"reference clip of {name!r}") for clip in clips(value)]
            for name, value in known_speakers.items()}


def _targets(override: str, key: str, group: str) -> bool:
    """Whether ``override`` sets, swaps or deletes the settings at ``key`` (preset group ``group``)."""
    target = override.split("=", 1)[0].lstrip("+~")
    return target in (key, group) or target.startswith(key + ".")


def _override_value(value: Any) -> str:
    """A setting's value in Hydra's override grammar (JSON scalars are; floats keep their full precision)."""
    return repr(value) if isinstance(value, float) else json.dumps(value)
