"""Run a validated pipeline's graph on recordings in memory: each node's stage on every recording of a batch at
once, a failing recording isolated from the others, outputs reused from a stage cache when one is given.

:mod:`qasr_plugins.runner` runs an executor over files and writes their outputs.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from qasr_plugins.cache import RecordingId, StageCache, node_key, output_digest, stage_identity
from qasr_plugins.document import AudioInfo, ResultDocument
from qasr_plugins.errors import InputError, QasrError, StageError
from qasr_plugins.graph import NodeSpec, PipelineSpec
from qasr_plugins.memory import return_freed_memory
from qasr_plugins.partials import listening
from qasr_plugins.settings import StageConfig
from qasr_plugins.stage import KINDS, Stage, Writer
from qasr_plugins.types import Audio, StageRecord

#: Called with (audio index, node name, partial output).
PartialListener = Callable[[int, str, Any], None]


def _version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("qasr-plugins")
    except PackageNotFoundError:
        return None


class Executor:
    """Runs a :class:`PipelineSpec`'s stages on in-memory audio. Stages are built and loaded once."""

    def __init__(self, spec: PipelineSpec, cache: StageCache | None = None) -> None:
        self.spec = spec
        self.cache = cache
        self.stages: dict[str, Stage[Any, Any]] = {n.name: n.stage_class(n.config) for n in spec.nodes}
        self.writers: dict[str, Writer] = {w.format: w.writer_class(w.config) for w in spec.writers}
        self._qasr_version = _version()
        #: Stage identities by node and settings digest: a copy of this executor with other settings for a node
        #: (a server request's variant) shares the dict and still finds its own.
        self._identities: dict[tuple[str, str], dict[str, Any] | None] = {}
        #: The error of the stage that last failed to load.
        self.load_failure: QasrError | None = None
        for stage in self.stages.values():
            stage.meet_peers(self.peer)

    def load(self) -> None:
        """Load every stage's models now (otherwise they load on first use). With ``run.release_models`` nothing
        loads here: each stage loads when its node runs and is released after it, one at a time."""
        if self.spec.release_models:
            return
        for node in self.spec.nodes:
            self._load(node)

    def _load(self, node: NodeSpec) -> None:
        """Load ``node``'s stage if it is not loaded.

        Raises:
            QasrError: ``S402``, or the stage's own coded error (e.g. ``S410``, a library missing), also kept as
                :attr:`load_failure`: it stops a run, since every file would fail the same way.
        """
        try:
            self.stages[node.name].ensure_loaded()
        except QasrError as exc:
            self.load_failure = self._public(exc.located(node.settings_path))
            raise self.load_failure from exc
        except Exception as exc:
            self.load_failure = self._public(StageError(
                f"stage {node.stage_name!r} failed to load: {type(exc).__name__}: {exc}", where=node.settings_path,
                code="S402", hint="Check the model settings of this stage."))
            raise self.load_failure from exc

    def _public(self, error: QasrError) -> QasrError:
        """``error`` with the values filled from the environment cut from its text (a stage's message may quote
        a model path it was given)."""
        return error.replace(message=self.spec.public_text(error.message), hint=self.spec.public_text(error.hint))

    def peer(self, stage_name: str, config: StageConfig) -> Stage[Any, Any] | None:
        """The stage of the first node that runs ``stage_name`` with settings equal to ``config`` (``None``: none
        does); a stage adopted from another executor counts as this one's."""
        digest = config.digest()
        for node in self.spec.nodes:
            if node.stage_name == stage_name and node.config.digest() == digest:
                return self.stages[node.name]
        return None

    def identity(self, node: NodeSpec) -> dict[str, Any] | None:
        """What the cache keys ``node``'s outputs on beyond its inputs (``None``: the node is not cached)."""
        slot = (node.name, node.config.digest())
        if slot not in self._identities:
            self._identities[slot] = stage_identity(node.kind, node.stage_name, node.entry.distribution,
                                                    node.entry.version, self.stages[node.name])
        return self._identities[slot]

    def adopt(self, other: Executor) -> None:
        """Take ``other``'s stages, loaded or not, for the nodes both graphs have with the same stage and settings,
        so that a pipeline derived from another shares its models instead of loading them again."""
        theirs = {node.name: node for node in other.spec.nodes}
        for node in self.spec.nodes:
            same = theirs.get(node.name)
            if same is not None and (same.stage_name, same.config.digest()) == (node.stage_name, node.config.digest()):
                self.stages[node.name] = other.stages[node.name]

    def close(self) -> None:
        for stage in self.stages.values():
            stage.close()

    def _inputs(self, node: NodeSpec, audio: Audio, values: dict[str, Any]) -> Any:
        kwargs = {port: values[src] for port, src in node.inputs.items()}
        if KINDS[node.kind].needs_audio:
            kwargs["audio"] = audio
        return node.stage_class.Input(**kwargs)

    def _call(self, node: NodeSpec, batch: list[Any], indices: Sequence[int],
              on_partial: PartialListener | None) -> list[Any]:
        stage = self.stages[node.name]
        listener = None if on_partial is None else (
            lambda position, partial: on_partial(indices[position], node.name, partial))
        try:
            with listening(listener):
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
                given: Sequence[Mapping[str, Any]] | None = None,
                on_partial: PartialListener | None = None) -> list[ResultDocument | QasrError]:
        """Run the graph on each audio; return a document, or the error that stopped that file.

        Args:
            audios: One recording per file.
            on_stage: Called with each node's name before it runs.
            given: Per audio, the values of the pipeline's ``given`` section by name (e.g. the transcript to align).
            on_partial: Called with (audio index, node name, partial output) as stages report what they have
                finished of a recording while they run (:mod:`qasr_plugins.partials`; e.g. the ASR's transcript so
                far), from the thread that runs them.

        Raises:
            InputError: ``I304`` when ``given`` lacks a value the pipeline declares, or one is of the wrong type.
        """
        values: list[dict[str, Any]] = [self._given(given[i] if given else {}) for i in range(len(audios))]
        records: list[list[StageRecord]] = [[] for _ in audios]
        failures: dict[int, QasrError] = {}
        recordings = [RecordingId.of(audio) for audio in audios] if self.cache is not None else []
        keys = self._given_keys(values)
        for node in self.spec.nodes:
            if on_stage:
                on_stage(node.name)
            alive = [i for i in range(len(audios)) if i not in failures]
            if not alive:
                break
            started = time.perf_counter()
            hits = self._lookup(node, alive, recordings, keys)
            looked_up = (time.perf_counter() - started) / len(alive)
            todo = [i for i in alive if i not in hits]
            results, seconds = self._run_node(node, [(i, audios[i], values[i]) for i in todo], failures,
                                              on_partial) if todo else ({}, {})
            self._store(node, results, keys)
            if self.spec.release_models:
                self.stages[node.name].release()
                return_freed_memory()
            for index in alive:
                if index in hits:
                    values[index][node.name] = hits[index]
                    records[index].append(self._record(node, looked_up, "hit"))
                elif index in results:
                    values[index][node.name] = results[index]
                    records[index].append(self._record(node, seconds[index] + looked_up, self._cache_state(node)))
        return [failures.get(i) or self._document(audio, values[i], records[i]) for i, audio in enumerate(audios)]

    def cached_nodes(self, recording: RecordingId) -> dict[str, bool]:
        """For each node, whether the cache holds its output for ``recording`` (and for every node it depends on,
        from the outputs before it); without a cache, or past a node that is never cached, ``False``."""
        keys: dict[str, str] = {}
        found = dict.fromkeys((node.name for node in self.spec.nodes), False)
        if self.cache is None:
            return found
        for node in self.spec.nodes:
            identity = self.identity(node)
            if identity is None or any(source not in keys for source in node.inputs.values()):
                continue
            inputs = {port: keys[source] for port, source in node.inputs.items()}
            keys[node.name] = key = node_key(identity, recording, inputs, {})
            found[node.name] = self.cache.get(node.stage_name, key, node.stage_class.Output) is not None
        return found

    def _given_keys(self, values: list[dict[str, Any]]) -> list[dict[str, str]] | None:
        """Per audio, the key of each value a node may read (``given`` values now, node outputs as they come)."""
        if self.cache is None:
            return None
        return [{name: output_digest(value) for name, value in vals.items()} for vals in values]

    def _lookup(self, node: NodeSpec, alive: list[int], recordings: list[RecordingId],
                keys: list[dict[str, str]] | None) -> dict[int, Any]:
        """Cached outputs of ``node`` by audio index; computes the node's key for each audio in ``alive``."""
        if keys is None or (identity := self.identity(node)) is None:
            return {}
        hits: dict[int, Any] = {}
        assert self.cache is not None
        for index in alive:
            inputs = {port: keys[index][source] for port, source in node.inputs.items()}
            keys[index][node.name] = key = node_key(identity, recordings[index], inputs, {})
            if (found := self.cache.get(node.stage_name, key, node.stage_class.Output)) is not None:
                hits[index] = found
        return hits

    def _store(self, node: NodeSpec, results: Mapping[int, Any], keys: list[dict[str, str]] | None) -> None:
        """Keep fresh outputs in the cache; a node that is not cached passes on its output's hash as its key."""
        if keys is None:
            return
        assert self.cache is not None
        cached = self.identity(node) is not None
        for index, output in results.items():
            if cached:
                self.cache.put(node.stage_name, keys[index][node.name], output)
            else:
                keys[index][node.name] = output_digest(output)

    def _cache_state(self, node: NodeSpec) -> str | None:
        if self.cache is None:
            return None
        return "miss" if self.identity(node) is not None else "uncacheable"

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
                  failures: dict[int, QasrError], on_partial: PartialListener | None,
                  ) -> tuple[dict[int, Any], dict[int, float]]:
        self._load(node)  # outside the per-file isolation: a stage that cannot load stops the run
        started = time.perf_counter()
        try:
            outputs = self._call(node, [self._inputs(node, audio, vals) for _, audio, vals in work],
                                 [i for i, _, _ in work], on_partial)
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
                results[index] = self._call(node, [self._inputs(node, audio, vals)], [index], on_partial)[0]
                seconds[index] = time.perf_counter() - started
            except Exception as exc:  # noqa: BLE001 - recorded per file; the batch goes on
                failures[index] = self._stage_error(node, audio, exc)
        return results, seconds

    def _stage_error(self, node: NodeSpec, audio: Audio, exc: BaseException) -> QasrError:
        if isinstance(exc, QasrError):
            return self._public(exc)
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return self._public(StageError(f"node {node.name!r} ({node.kind} {node.stage_name}) failed: {detail}",
                                       where=audio.path or audio.uri, code="S401",
                                       hint="See the traceback with --debug; other files are unaffected."))

    def _record(self, node: NodeSpec, seconds: float, cache: str | None = None) -> StageRecord:
        model = self.stages[node.name].model_id()
        return StageRecord(node=node.name, kind=node.kind, name=node.stage_name,
                           distribution=node.entry.distribution, version=node.entry.version,
                           model=None if model is None else self.spec.public_text(model),
                           config_hash=node.config.digest(), wall_time=seconds,
                           settings=self.spec.public_settings(node.settings_path, node.config), cache=cache)

    def _document(self, audio: Audio, values: dict[str, Any], records: list[StageRecord]) -> ResultDocument:
        def part(name: str) -> Any:
            """The first computed node filling this document part that no other such node reads: the end of a
            chain (an identification node's diarization, not the unnamed one it renamed)."""
            producers = [n for n in self.spec.nodes if KINDS[n.kind].document_part == name and n.name in values]
            read = {upstream for n in producers for upstream in n.inputs.values()}
            ends = [n for n in producers if n.name not in read] or producers
            return values[ends[0].name] if ends else None

        transcript = values.get(self.spec.transcript_node) if self.spec.transcript_node else None
        diarization = part("diarization")
        embeddings = diarization.embeddings if diarization is not None else None
        space = self.spec.public_text(embeddings.space) if embeddings is not None else None
        if embeddings is not None and space != embeddings.space:  # the space named a model from the environment
            diarization = replace(diarization, embeddings=replace(embeddings, space=space))
        return ResultDocument(uri=audio.uri, audio=AudioInfo(audio.path, audio.duration, audio.sample_rate,
                                                             audio.offset, audio.warnings),
                              speech=part("speech"), diarization=diarization, transcript=transcript,
                              provenance=tuple(records), pipeline=self.spec.name, qasr_version=self._qasr_version)

    def bind(self, output_dir: Path) -> None:
        """Tell every writer where this run writes and which sibling writers it has."""
        for writer in self.writers.values():
            writer.bind(output_dir, self.writers)

    def render(self, document: ResultDocument) -> dict[str, str | bytes]:
        """Every configured format's content for one document, keyed by file suffix."""
        return {writer.suffix: writer.render(document) for writer in self.writers.values()}
