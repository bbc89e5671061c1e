"""The ``known_speakers`` section of a pipeline: enrolled speakers named after diarization.

    known_speakers:                 # name → reference clips of that speaker alone (2-30 s each)
      Alice: [clips/alice_1.wav, clips/alice_2.wav]
      Bob: clips/bob.wav

adds an ``identification`` node ``speakers`` (stage ``known_speakers``, settings at ``stages.speakers``) fed by the
graph's one diarization node, and every node that read that diarization reads the named one instead: attribution
gives words the enrolled names, writers write them. Other settings of the stage (``threshold`` …) go under
``stages.speakers`` as for any node. When the diarization stage embeds speech itself (a
:class:`~qasr_plugins.stage.SpeakerEncoder`, e.g. ``pyannote.diarization``), the node's ``encoder`` is that stage with
the same settings, so the clips are compared with the diarizer's own speaker embeddings; ``stages.speakers.encoder:
null`` keeps the bundled encoder. A graph that needs another arrangement wires an ``identification`` node itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qasr_plugins.errors import ConfigError

SECTION = "known_speakers"
#: The node (and settings key) the section adds.
NODE = "speakers"
STAGE = "known_speakers"


def with_known_speakers(config: Mapping[str, Any], references: Mapping[str, Any],
                        errors: list[ConfigError]) -> dict[str, Any]:
    """``config`` (without its ``known_speakers`` section) with the identification node that names ``references``'
    speakers added and wired after its diarization node; ``config`` as it is, and a ``C163``, when that is not
    possible (no diarization node or several, an identification node already there, the node name taken)."""
    graph = config.get("graph")
    graph = graph if isinstance(graph, Mapping) else {}
    diarizers, identifiers = ([name for name, node in graph.items()
                               if isinstance(node, Mapping) and node.get("kind") == kind]
                              for kind in ("diarization", "identification"))
    problem = (f"the graph has {len(diarizers)} diarization nodes; known speakers name the one diarization."
               if len(diarizers) != 1 else
               f"the graph already names speakers (identification node {identifiers[0]!r})." if identifiers else
               f"the graph already has a node {NODE!r}." if NODE in graph else None)
    if problem:
        errors.append(ConfigError(problem, where=SECTION, code="C163",
                                  hint="Add one diarization stage, or wire an identification node "
                                  f"(stage {STAGE!r}) yourself with its clips under 'references'."))
        return {k: v for k, v in config.items() if k != SECTION}
    diarization = diarizers[0]
    rewired = {name: _rewired(node, diarization) for name, node in graph.items()}
    rewired[NODE] = {"kind": "identification", "inputs": {"diarization": diarization}}
    stages = config.get("stages")
    stages = dict(stages) if isinstance(stages, Mapping) else {}
    own = stages.get(NODE)
    own = dict(own) if isinstance(own, Mapping) else {}
    if "encoder" not in own:
        node = graph[diarization]
        encoder = _speaker_encoder(stages.get(str(node.get("stage", diarization))))
        if encoder is not None:
            own["encoder"] = encoder
    stages[NODE] = {"name": STAGE, **own, "references": dict(references)}
    return {**{k: v for k, v in config.items() if k != SECTION}, "graph": rewired, "stages": stages}


def expand_section(config: Mapping[str, Any], errors: list[ConfigError]) -> Mapping[str, Any]:
    """``config`` with its ``known_speakers`` section, if any, turned into the node that names them (see
    :func:`copied_env_paths` for the paths its ``encoder`` copies)."""
    if SECTION not in config:
        return config
    references = config[SECTION]
    if references is None:
        return {k: v for k, v in config.items() if k != SECTION}
    if not isinstance(references, Mapping):
        errors.append(ConfigError(f"must map names to reference clips, got {type(references).__name__}.",
                                  where=SECTION, code="C103",
                                  hint="e.g. 'known_speakers: {Alice: [alice.wav], Bob: bob.wav}'."))
        return {k: v for k, v in config.items() if k != SECTION}
    return with_known_speakers(config, references, errors)


def copied_env_paths(config: Mapping[str, Any], env_paths: frozenset[str]) -> frozenset[str]:
    """``env_paths`` and, when the naming node's ``encoder`` is a copy of another node's stage settings, the copies
    of those settings' paths filled from the environment (so their values stay out of messages and provenance)."""
    stages = config.get("stages")
    own = stages.get(NODE) if isinstance(stages, Mapping) else None
    encoder = own.get("encoder") if isinstance(own, Mapping) else None
    if not env_paths or not isinstance(encoder, Mapping):
        return env_paths
    copies: set[str] = set()
    for key in (key for key, settings in stages.items() if key != NODE and settings == encoder):
        prefix = f"stages.{key}."
        copies |= {f"stages.{NODE}.encoder.{path.removeprefix(prefix)}" for path in env_paths if path.startswith(prefix)}
    return env_paths | copies


def _speaker_encoder(settings: Any) -> dict[str, Any] | None:
    """The diarization stage ``settings`` (``{name: …, …}``) as a ``known_speakers`` encoder when that stage embeds
    speech; ``None`` otherwise (an unknown stage is reported where the node is resolved)."""
    from qasr_plugins import registry
    from qasr_plugins.errors import QasrError
    from qasr_plugins.stage import embeds_speech

    if not isinstance(settings, Mapping) or not isinstance(settings.get("name"), str):
        return None
    try:
        stage = registry.load("diarization", settings["name"])
    except QasrError:
        return None
    return dict(settings) if embeds_speech(stage) else None


def _rewired(node: Any, diarization: str) -> Any:
    """A node whose inputs read ``diarization`` reads the named diarization instead."""
    if not isinstance(node, Mapping) or not isinstance(node.get("inputs"), Mapping):
        return node
    inputs = {port: NODE if upstream == diarization else upstream for port, upstream in node["inputs"].items()}
    return {**node, "inputs": inputs}
