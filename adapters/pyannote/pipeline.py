"""The qasr graph as a tunable ``pyannote.audio.Pipeline``.

:class:`QasrPipeline` runs a qasr pipeline (a packaged name, a YAML path, or a built
:class:`~qasr_plugins.api.Pipeline`) on any pyannote ``AudioFile`` and returns pyannote.audio 4's ``DiarizeOutput``
from the graph's diarization node; the full :class:`~qasr_plugins.document.ResultDocument` stays available as
``last_document``. Its hyper-parameters are the settings the graph's stages declare tunable (see
:mod:`qasr_plugins.tuning`), one ``ParamDict`` per node, named by node and setting (``{"vad": {"threshold": …}}``
mirrors ``stages.vad.threshold``). By default they are those of the diarization node and of the nodes it depends on
(settings of other nodes, e.g. ASR or attribution, cannot change its turns); ``hyperparameters`` names others.
``instantiate()`` (and so ``load_params()``) rebuilds the qasr pipeline through the usual override and validation
path. ``get_metric()`` is a diarization error rate that takes ``DiarizeOutput``, so
``pyannote.pipeline.Optimizer(pipeline).tune(files)`` tunes a qasr graph on files that carry ``annotation`` (and
preferably ``annotated``), as a ``pyannote.database`` protocol yields them.

``Pipeline.from_pretrained`` loads it from a pyannote-style ``config.yaml`` naming
``qasr_plugins.adapters.pyannote.pipeline.QasrPipeline``; :func:`packaged_config` finds the shipped ones.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pyannote.audio import Pipeline as PyannotePipeline
from pyannote.metrics.diarization import DiarizationErrorRate
from pyannote.pipeline.parameter import Categorical, Integer, LogUniform, ParamDict, Parameter, Uniform

from qasr_plugins.adapters.pyannote.convert import to_diarize_output
from qasr_plugins.api import Pipeline
from qasr_plugins.audio import to_audio
from qasr_plugins.graph import PipelineSpec, packaged_configs_dir
from qasr_plugins.tuning import Tunable


class DiarizeOutputErrorRate(DiarizationErrorRate):
    """pyannote.metrics' diarization error rate, also taking a ``DiarizeOutput`` hypothesis (scored on its
    regular ``speaker_diarization``, overlapped speech included)."""

    def compute_components(self, reference: Any, hypothesis: Any, uem: Any = None, **kwargs: Any) -> dict:
        regular = getattr(hypothesis, "speaker_diarization", hypothesis)
        return super().compute_components(reference, regular, uem=uem, **kwargs)


class QasrPipeline(PyannotePipeline):
    """A qasr pipeline as a tunable pyannote pipeline, instantiated with the graph's own settings.

    Args:
        pipeline: A packaged pipeline name, a YAML path, or a built qasr pipeline (rebuilt from its composed
            config when tuned values change).
        overrides: Dotlist overrides applied under the tuned values (``stages.diar.num_speakers=2``).
        hyperparameters: ``node.setting`` names to expose (each must be declared tunable by its stage); default:
            every declared setting of the diarization node and of the nodes it depends on.
        collar: Of the diarization error rate (s, both sides of each reference boundary).
        skip_overlap: Whether the error rate ignores overlapped speech.
        telemetry: pyannote.audio's usage telemetry (``PYANNOTE_METRICS_ENABLED``), off unless asked for.
        token: Accepted from ``Pipeline.from_pretrained``, which passes it to every pipeline; qasr stages take
            their models from their own settings (e.g. ``token_env``), so it is not used.
        cache_dir: Accepted from ``Pipeline.from_pretrained`` like ``token``, and not used either.

    Raises:
        ValueError: The graph has no diarization node, a named hyper-parameter is not a declared tunable setting,
            or a node's name clashes with an attribute of this class.
        ConfigError: The qasr pipeline does not compose or validate.
    """

    def __init__(self, pipeline: str | os.PathLike[str] | Pipeline = "offline", overrides: Sequence[str] = (),
                 hyperparameters: Sequence[str] | None = None, collar: float = 0.0, skip_overlap: bool = False,
                 telemetry: bool = False, token: str | None = None, cache_dir: str | os.PathLike[str] | None = None
                 ) -> None:
        super().__init__()
        # pyannote.audio reads this at every call; importing it sets "true" when unset, so set it explicitly
        os.environ["PYANNOTE_METRICS_ENABLED"] = "true" if telemetry else "false"
        if isinstance(pipeline, Pipeline):
            self._source: str | os.PathLike[str] | Mapping[str, Any] = dict(pipeline.spec.config)
            self._overrides = tuple(overrides)
            self.qasr = Pipeline.from_config(self._source, self._overrides) if overrides else pipeline
        else:
            self._source, self._overrides = pipeline, tuple(overrides)
            self.qasr = Pipeline.from_config(pipeline, self._overrides)
        self._owned = self.qasr is not pipeline  # built here, so closed here when replaced
        self.collar, self.skip_overlap = collar, skip_overlap
        self.last_document: Any = None
        self._tunables = _select(self.qasr.spec, hyperparameters)
        self._defaults = {node: {setting: getattr(self.qasr.spec.node(node).config, setting) for setting in settings}
                          for node, settings in self._tunables.items()}
        for node, settings in self._tunables.items():
            if node in dir(self):
                raise ValueError(f"node {node!r} clashes with an attribute of QasrPipeline; rename the node")
            setattr(self, node, ParamDict(**{setting: _parameter(t) for setting, t in settings.items()}))
        self.instantiate(self.default_parameters())

    def default_parameters(self) -> dict[str, dict[str, Any]]:
        """The settings the graph had before tuning, as nested parameters."""
        return {node: dict(values) for node, values in self._defaults.items()}

    def initialize(self) -> None:
        """Rebuild the qasr pipeline when the instantiated values differ from its settings."""
        values = self.parameters(instantiated=True)
        spec = self.qasr.spec
        if all(getattr(spec.node(node).config, setting) == value
               for node, settings in values.items() for setting, value in settings.items()):
            return
        tuned = [f"{spec.node(node).settings_path}.{setting}={_override_value(value)}"
                 for node, settings in values.items() for setting, value in settings.items()]
        rebuilt = Pipeline.from_config(self._source, [*self._overrides, *tuned])
        if self._owned:
            self.qasr.close()
        self.qasr, self._owned = rebuilt, True

    def apply(self, file: Any) -> Any:
        """Run the qasr pipeline on ``file`` (a path, ``{"audio": path}`` or ``{"waveform", "sample_rate"}``,
        with an optional ``uri``) and return its diarization as ``DiarizeOutput``."""
        source = dict(file) if isinstance(file, Mapping) else {"audio": str(file)}
        document = self.qasr(to_audio(source))
        self.last_document = document
        return to_diarize_output(document.diarization)

    def get_metric(self) -> DiarizeOutputErrorRate:
        """A new diarization error rate with this pipeline's ``collar`` and ``skip_overlap``."""
        return DiarizeOutputErrorRate(collar=self.collar, skip_overlap=self.skip_overlap)

    def loss(self, file: Mapping[str, Any], output: Any) -> float:
        """The diarization error rate of ``output`` against ``file["annotation"]`` (within ``file["annotated"]``
        when given)."""
        from pyannote.database import get_annotated

        return float(self.get_metric()(file["annotation"], output, uem=get_annotated(file)))


def as_pyannote_pipeline(pipeline: Pipeline, **options: Any) -> QasrPipeline:
    """Wrap a built qasr :class:`~qasr_plugins.api.Pipeline` as a :class:`QasrPipeline` (``options`` as there)."""
    return QasrPipeline(pipeline, **options)


def packaged_config(name: str = "offline") -> Path:
    """The pyannote-style ``config.yaml`` shipped for a packaged pipeline, for ``Pipeline.from_pretrained``.

    Raises:
        FileNotFoundError: None is shipped under that name.
    """
    directory = packaged_configs_dir() / "pyannote"
    path = directory / name / "config.yaml"
    if not path.is_file():
        shipped = sorted(p.parent.name for p in directory.glob("*/config.yaml"))
        raise FileNotFoundError(f"no pyannote config {name!r}; shipped: {', '.join(shipped)}")
    return path


def _select(spec: PipelineSpec, names: Sequence[str] | None) -> dict[str, dict[str, Tunable]]:
    """The tunable settings exposed, by node: ``names`` (``node.setting``) or the diarization's upstream ones."""
    declared = {node.name: node.stage_class.Config.tunable() for node in spec.nodes}
    if names is None:
        diarizers = [node.name for node in spec.nodes if node.kind == "diarization"]
        if not diarizers:
            raise ValueError(f"pipeline {spec.name!r} has no diarization node to report to pyannote")
        chosen = _upstream(spec, diarizers)
        return {n: declared[n] for n in (node.name for node in spec.nodes) if n in chosen and declared[n]}
    selected: dict[str, dict[str, Tunable]] = {}
    for name in names:
        node, _, setting = name.partition(".")
        if setting not in declared.get(node, {}):
            known = [f"{n}.{s}" for n, settings in declared.items() for s in settings]
            raise ValueError(f"{name!r} is not a tunable setting of this pipeline; tunable: {', '.join(known)}")
        selected.setdefault(node, {})[setting] = declared[node][setting]
    return selected


def _upstream(spec: PipelineSpec, names: Sequence[str]) -> set[str]:
    """``names`` and every node they read from, directly or not (given values are not nodes)."""
    nodes = {node.name: node for node in spec.nodes}
    found: set[str] = set()
    pending = list(names)
    while pending:
        name = pending.pop()
        if name in found or name not in nodes:
            continue
        found.add(name)
        pending.extend(nodes[name].inputs.values())
    return found


def _parameter(tunable: Tunable) -> Parameter:
    if tunable.distribution == "categorical":
        return Categorical(tunable.values)
    low, high = tunable.values
    kinds: dict[str, type[Uniform | LogUniform | Integer]] = {
        "uniform": Uniform, "log_uniform": LogUniform, "integer": Integer}
    return kinds[tunable.distribution](low, high)


def _override_value(value: Any) -> str:
    """A setting's value in Hydra's override grammar (JSON scalars are; floats keep their full precision)."""
    return repr(value) if isinstance(value, float) else json.dumps(value)


__all__ = ["DiarizeOutputErrorRate", "QasrPipeline", "as_pyannote_pipeline", "packaged_config"]
