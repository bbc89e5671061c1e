"""Pipeline configs: compose OmegaConf YAML with Hydra, then validate the graph before any model loads.

A pipeline file looks like::

    defaults:
      - /stages/vad: silero          # configs/stages/vad/silero.yaml → stages.vad
      - _self_
    graph:
      vad: {kind: vad}               # settings from stages.vad (or stages.<stage:>)
      asr: {kind: asr, inputs: {speech: vad}}
    outputs:
      formats: [json]
      writers: {srt: {max_chars: 42}}

Stage presets name a registered stage (``name: silero.vad``) and the settings where it differs from that stage's
defaults. Components are only ever built from registered names; nothing in a config can import a dotted path.

A ``given`` section names values supplied with each input instead of computed (``given: {text: {part:
transcript, provides: [language]}}``); nodes wire them by name, and the runner takes them per input. A
``known_speakers`` section (names → reference clips) names the diarized speakers (:mod:`.speakers`).

Modules: :mod:`.compose` (names, paths, preset directories, Hydra), :mod:`.sections` (the config's sections),
:mod:`.speakers` (the ``known_speakers`` section), :mod:`.validate` (resolve → wire → order → capabilities), :mod:`.outputs` (transcript node, writers) and
:mod:`.specs` (the frozen results).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from qasr_plugins.graph.catalog import USER_CONFIG_PATH_ENV, packaged_configs_dir, packaged_pipelines_dir
from qasr_plugins.graph.compose import available_pipelines, available_presets, compose, resolve_pipeline, search_dirs
from qasr_plugins.graph.speakers import SECTION
from qasr_plugins.graph.specs import GivenSpec, NodeSpec, PipelineSpec, ResolvedNode, WriterSpec
from qasr_plugins.graph.validate import validate
from qasr_plugins.settings import build_config
from qasr_plugins.stage import KINDS


def load_pipeline(pipeline: str | os.PathLike[str] | Mapping[str, Any], overrides: Sequence[str] = (),
                  formats: Sequence[str] | None = None, *, allow_env: bool = False,
                  known_speakers: Mapping[str, Sequence[str]] | None = None) -> PipelineSpec:
    """Compose and validate in one step.

    Args:
        pipeline: A packaged name, a YAML path, or a pipeline config built in code.
        overrides: Dotlist overrides (see :func:`compose`).
        formats: Replaces ``outputs.formats`` when given.
        allow_env: Let ``${oc.env:VAR}`` read the environment (off by default; values so filled are never shown).
        known_speakers: Names → reference clip paths, added to the config's ``known_speakers`` section
            (:mod:`.speakers`).

    Raises:
        ConfigError: the composition error, or :class:`~qasr_plugins.errors.ConfigErrors` with every problem found.
    """
    source = pipeline if isinstance(pipeline, Mapping) else resolve_pipeline(pipeline)
    env_paths: set[str] = set()
    config = compose(source, overrides, allow_env=allow_env, env_paths=env_paths)
    if formats is not None:
        outputs = config.get("outputs")
        config["outputs"] = {**(outputs if isinstance(outputs, Mapping) else {}), "formats": list(formats)}
    if known_speakers is not None:  # even empty: the node is added, naming nobody until given references
        section = config.get(SECTION)
        config[SECTION] = {**(section if isinstance(section, Mapping) else {}),
                           **{name: list(clips) for name, clips in known_speakers.items()}}
    return validate(config, source=str(config["name"]) if isinstance(source, Mapping) else str(source),
                    env_paths=frozenset(env_paths))


__all__ = ["KINDS", "USER_CONFIG_PATH_ENV", "GivenSpec", "NodeSpec", "PipelineSpec", "ResolvedNode", "WriterSpec",
           "available_pipelines", "available_presets", "build_config", "compose", "load_pipeline",
           "packaged_configs_dir", "packaged_pipelines_dir", "resolve_pipeline", "search_dirs", "validate"]
