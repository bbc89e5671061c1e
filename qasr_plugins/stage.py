"""Stage contracts: one base class per stage kind, each with typed inputs and outputs.

A stage is a class registered under an entry point of its kind's group (``qasr.vad``, ``qasr.asr`` …). It declares
a :class:`StageConfig` schema (unknown keys rejected), what it needs of its inputs (:meth:`Stage.requires`) and what
its output offers (:meth:`Stage.provides`). The graph checks all of this before any model loads.

Stages receive a *batch* of inputs (one per file) and return one output per input, in order, so that a stage can
batch model calls across files. Heavy libraries (torch, NeMo, pyannote) are imported in :meth:`Stage.load` or
inside :meth:`Stage.process`, never at module import, so that validation and ``qasr plugins`` stay light.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar, get_type_hints

import numpy as np

from qasr_plugins import fingerprint
from qasr_plugins.document import ResultDocument
from qasr_plugins.libraries import Libraries, missing_library
from qasr_plugins.settings import Configured, StageConfig
from qasr_plugins.types import Audio, Diarization, SpeechRegions, Transcript

# Capabilities a stage output may offer and a stage may require of its inputs.
LANGUAGE = "language"  # transcript segments carry a language
WORDS = "words"  # transcript segments carry words (text units)
WORD_TIMESTAMPS = "word_timestamps"  # words carry spans
SPEAKERS = "speakers"  # words/segments carry speakers
TEXT = "text"  # transcript segments carry text


def transcript_capabilities(transcript: Transcript) -> frozenset[str]:
    """What a transcript made outside the graph (e.g. read from a file) offers, every segment or word counted."""
    segments = transcript.segments
    words = [w for s in segments for w in s.words]
    found = {TEXT} if segments else set()
    found |= {LANGUAGE} if segments and all(s.language for s in segments) else set()
    found |= {WORDS} if segments and all(s.words for s in segments) else set()
    found |= {WORD_TIMESTAMPS} if WORDS in found and all(w.span is not None for w in words) else set()
    found |= {SPEAKERS} if segments and (all(s.speaker for s in segments) or (
        WORDS in found and all(w.speaker for w in words))) else set()
    return frozenset(found)


@dataclass(frozen=True)
class AnyOf:
    """A writer requirement that any one of ``options`` meets, e.g. ``AnyOf.of("diarization", SPEAKERS)``."""

    options: frozenset[str]

    @classmethod
    def of(cls, *options: str) -> AnyOf:
        return cls(frozenset(options))

    def met_by(self, available: frozenset[str]) -> bool:
        return bool(self.options & available)

    def __str__(self) -> str:
        return " or ".join(sorted(self.options))


#: What a writer may require: a part of the result or a capability, or a choice of them.
Requirement = str | AnyOf


@dataclass(frozen=True)
class VadInput:
    audio: Audio


@dataclass(frozen=True)
class DiarizationInput:
    audio: Audio
    speech: SpeechRegions | None = None


@dataclass(frozen=True)
class IdentificationInput:
    """A diarization to name: its speakers' turns in ``audio`` are compared with what the stage knows."""

    audio: Audio
    diarization: Diarization


@dataclass(frozen=True)
class AsrInput:
    """``speech`` regions or ``diarization`` turns, when wired, say which parts of the audio to transcribe."""

    audio: Audio
    speech: SpeechRegions | None = None
    diarization: Diarization | None = None


@dataclass(frozen=True)
class AlignInput:
    audio: Audio
    transcript: Transcript


@dataclass(frozen=True)
class AttributionInput:
    transcript: Transcript
    diarization: Diarization | None = None


In = TypeVar("In")
Out = TypeVar("Out")
#: How a stage finds the pipeline's other stages: ``(stage name, settings)`` → the stage instance of the node that
#: runs that stage with those settings, or ``None`` when no node does (see :meth:`Stage.meet_peers`).
FindPeer = Callable[[str, StageConfig], "Stage[Any, Any] | None"]


class Stage(Configured, ABC, Generic[In, Out]):
    """Base of all processing stages. Subclass one of the kind-specific bases below."""

    kind: ClassVar[str]
    Input: ClassVar[type]
    Output: ClassVar[type]
    #: The input port whose capabilities this stage's output keeps (e.g. an aligner keeps its transcript's).
    passthrough: ClassVar[str | None] = None
    #: What the stage imports beyond qasr's core and which extra installs it (``None``: the core suffices).
    libraries: ClassVar[Libraries | None] = None
    #: Capabilities this stage's output offers whatever its settings (see :meth:`provides`).
    offers: ClassVar[frozenset[str]] = frozenset()
    #: Whether the stage cache may keep and reuse this stage's outputs: ``False`` for a stage whose output is not
    #: decided by its inputs, settings, version and :meth:`fingerprint` (e.g. sampling without a fixed seed).
    cacheable: ClassVar[bool] = True
    #: Part of the cache key: bump it when a change of the stage's code changes its outputs between releases. A stage
    #: that no installed distribution provides (registered in-process, e.g. in a notebook) is cached only when it sets
    #: this, since no version tells its edits apart.
    cache_version: ClassVar[str | None] = None

    def __init__(self, config: StageConfig | None = None, **settings: Any) -> None:
        super().__init__(config, **settings)
        self._loaded = False
        #: The instance's attributes before :meth:`ensure_loaded` loaded it: what :meth:`release` restores.
        self._unloaded_state: dict[str, Any] | None = None

    @classmethod
    def libraries_for(cls, config: StageConfig) -> Libraries | None:
        """What the stage imports with these settings. Default: :attr:`libraries`; override when the settings
        choose between libraries."""
        return cls.libraries

    @classmethod
    def provides(cls, config: StageConfig) -> frozenset[str]:
        """Capabilities of this stage's output (beyond those kept from :attr:`passthrough`). Default:
        :attr:`offers`; override when they depend on the settings."""
        return cls.offers

    @classmethod
    def requires(cls, config: StageConfig) -> Mapping[str, frozenset[str]]:
        """Capabilities needed on each input port, e.g. ``{"transcript": {"language"}}``."""
        return {}

    @classmethod
    def unmet_hint(cls, port: str, capability: str) -> str:
        """What a user can do when ``capability`` is missing on ``port`` (shown in validation errors)."""
        return f"Wire a stage that provides {capability!r} into {port!r}."

    def model_id(self) -> str | None:
        """The model this stage runs (hub id or path), for provenance."""
        return getattr(self.config, "model", None)

    def fingerprint(self) -> Mapping[str, Any]:
        """What decides this stage's outputs beyond its settings, kind and version, for the stage cache. Default:
        the identity (resolved path, size, modification time) of every local file or directory a setting names —
        a model checkpoint, a reference clip. Override to add what the settings do not show."""
        return fingerprint.settings_files(self.config.model_dump(mode="json").values())

    def ensure_loaded(self) -> None:
        """:meth:`load` once.

        Raises:
            StageError: ``S410`` when a module it imports is not installed (naming the extra that installs it).
        """
        if not self._loaded:
            unloaded = dict(vars(self))
            try:
                self.load()
            except ModuleNotFoundError as exc:
                libraries = self.libraries_for(self.config)
                raise missing_library(type(self).__name__, libraries, [exc.name or str(exc)]) from exc
            self._loaded = True
            self._unloaded_state = unloaded

    def release(self) -> None:
        """Undo :meth:`ensure_loaded`: :meth:`close`, then drop every attribute loading set or changed (models,
        processors, anything made since), so their memory can go; the next use loads again. A stage loaded another
        way (e.g. a model handed to it) is left as it is."""
        if not self._loaded or self._unloaded_state is None:
            return
        self.close()
        unloaded = self._unloaded_state
        vars(self).clear()
        vars(self).update(unloaded)

    @property
    def loaded(self) -> bool:
        """Whether the stage is loaded (:meth:`ensure_loaded` ran and :meth:`release` has not undone it)."""
        return self._loaded

    def meet_peers(self, find: FindPeer) -> None:
        """Told, before loading, how to find the other stages of the pipeline it runs in. A stage that builds a stage
        of its own (``known_speakers``' encoder) can take a node's instead when a node runs that stage with the same
        settings, so that one model serves both. Default: ignored."""

    def load(self) -> None:
        """Load models and other heavy resources. Called once, before the first :meth:`process`."""

    @abstractmethod
    def process(self, batch: Sequence[In]) -> list[Out]:
        """Process one input per file; return one output per input, in the same order."""

    def __call__(self, item: In) -> Out:
        """Process a single input (convenient in notebooks)."""
        self.ensure_loaded()
        return self.process([item])[0]

    def close(self) -> None:
        """Release resources (models, threads)."""


class SpeakerEncoder(Protocol):
    """What a diarization stage offers when its speakers' embeddings can be compared with other speech.

    A stage that returns :class:`~qasr_plugins.types.SpeakerEmbeddings` and implements these methods lets an
    identification stage (``known_speakers``) embed reference clips in the same space. ``speaker_space`` is the
    ``space`` of the embeddings it returns; ``same_speaker_similarity`` the cosine similarity from which two of its
    embeddings are taken to be one speaker (the default threshold for naming speakers). :func:`embeds_speech` tells
    whether a stage class implements it.
    """

    same_speaker_similarity: float

    def speaker_space(self) -> str | None:
        """The name of the embedding space (the encoder and its checkpoint); ``None`` when this instance has no
        encoder after all (e.g. a pipeline without an embedding model)."""
        ...

    def embed_speech(self, clips: Sequence[np.ndarray]) -> np.ndarray:
        """One embedding per clip (16 kHz mono float32 samples of one speaker), rows in the space's units."""
        ...


def embeds_speech(stage: type | object) -> bool:
    """Whether a stage class (or instance) implements :class:`SpeakerEncoder`."""
    return all(callable(getattr(stage, method, None)) for method in ("speaker_space", "embed_speech")) and \
        isinstance(getattr(stage, "same_speaker_similarity", None), float)


class VadStage(Stage[VadInput, SpeechRegions]):
    """Finds speech: :class:`VadInput` → :class:`SpeechRegions`."""

    kind = "vad"
    Input = VadInput
    Output = SpeechRegions


class DiarizationStage(Stage[DiarizationInput, Diarization]):
    """Finds who speaks when: :class:`DiarizationInput` → :class:`Diarization`."""

    kind = "diarization"
    Input = DiarizationInput
    Output = Diarization


class IdentificationStage(Stage[IdentificationInput, Diarization]):
    """Names diarized speakers: :class:`IdentificationInput` → the same :class:`Diarization` with labels renamed
    where a speaker is recognised (e.g. from enrolled reference clips); the others keep theirs."""

    kind = "identification"
    Input = IdentificationInput
    Output = Diarization
    passthrough = "diarization"


class AsrStage(Stage[AsrInput, Transcript]):
    """Recognises speech (and possibly the language): :class:`AsrInput` → :class:`Transcript`."""

    kind = "asr"
    Input = AsrInput
    Output = Transcript
    offers = frozenset({TEXT})


class AlignStage(Stage[AlignInput, Transcript]):
    """Times the words of a transcript: :class:`AlignInput` → :class:`Transcript` with word spans."""

    kind = "align"
    Input = AlignInput
    Output = Transcript
    passthrough = "transcript"
    offers = frozenset({WORDS, WORD_TIMESTAMPS})


class AttributionStage(Stage[AttributionInput, Transcript]):
    """Assigns speakers to words/segments: :class:`AttributionInput` → :class:`Transcript` with speakers."""

    kind = "attribution"
    Input = AttributionInput
    Output = Transcript
    passthrough = "transcript"
    offers = frozenset({SPEAKERS})


class Writer(Configured, ABC):
    """Renders a :class:`ResultDocument` into one output format.

    The runner writes what :meth:`render` returns to ``DIR/<uri>.<suffix>`` atomically. A writer whose
    :attr:`collect_as` is set also gets a run-level file ``DIR/<collect_as>`` joining every file's output
    (e.g. one NeMo manifest for the whole batch).
    """

    kind: ClassVar[str] = "writer"
    suffix: ClassVar[str]
    collect_as: ClassVar[str | None] = None
    #: What this format needs whatever its settings (see :meth:`requires`).
    needs: ClassVar[frozenset[Requirement]] = frozenset()

    @classmethod
    def requires(cls, config: StageConfig) -> frozenset[Requirement]:
        """Parts of the result this format needs: ``transcript``, ``speech``, ``diarization`` or a capability
        such as ``word_timestamps``; :class:`AnyOf` when any one of several will do. Default: :attr:`needs`;
        override when the needs depend on the settings."""
        return cls.needs

    def bind(self, output_dir: Path, writers: Mapping[str, Writer]) -> None:
        """Called before rendering with the run's output directory and every writer of the run (by format), so a
        writer can refer to its siblings' files (e.g. a manifest naming the CTM files). Default: nothing."""

    @abstractmethod
    def render(self, document: ResultDocument) -> str | bytes:
        """The file content for one document."""


class TranscriptWriter(Writer):
    """A format made from the transcript (an empty one when the run made none): subclasses implement
    :meth:`render_transcript`."""

    needs = frozenset({"transcript"})

    def render(self, document: ResultDocument) -> str | bytes:
        transcript = document.transcript if document.transcript is not None else Transcript(document.uri)
        return self.render_transcript(transcript, document)

    @abstractmethod
    def render_transcript(self, transcript: Transcript, document: ResultDocument) -> str | bytes:
        """The file content for one document's transcript (``document`` for the rest: audio, uri …)."""


@dataclass(frozen=True)
class Kind:
    """A stage kind, declared once: everything else about kinds (names, groups, ports) is derived from these.

    Attributes:
        base: The base class every stage of this kind subclasses; its ``kind`` is the kind's name, its ``Input`` and
            ``Output`` the kind's types.
        document_part: What this kind's output fills in the result document (``speech``, ``diarization``,
            ``transcript``); ``None`` for writers, which render the document. Two kinds may fill one part (an
            identification node renames a diarization node's speakers): the document takes the end of the chain.
    """

    base: type[Stage[Any, Any] | Writer]
    document_part: str | None

    @property
    def name(self) -> str:
        return self.base.kind

    @property
    def group(self) -> str:
        """The entry-point group stages of this kind are registered under, e.g. ``qasr.vad``."""
        return GROUP_PREFIX + self.name

    @property
    def input_type(self) -> type:
        return self.base.Input if issubclass(self.base, Stage) else ResultDocument

    @property
    def output_type(self) -> type:
        return self.base.Output if issubclass(self.base, Stage) else object

    def ports(self) -> dict[str, tuple[type, bool]]:
        """The wireable input ports: name → (type, required). ``audio`` is implicit; writers have none."""
        if not issubclass(self.base, Stage):
            return {}
        hints = get_type_hints(self.input_type)
        ports: dict[str, tuple[type, bool]] = {}
        for f in fields(self.input_type):
            if f.name == "audio":
                continue
            annotation = hints[f.name]
            args = [a for a in getattr(annotation, "__args__", (annotation,)) if a is not type(None)]
            ports[f.name] = (args[0], f.default is not None)
        return ports

    @property
    def needs_audio(self) -> bool:
        return issubclass(self.base, Stage) and "audio" in {f.name for f in fields(self.input_type)}


GROUP_PREFIX = "qasr."
#: Every stage kind, in pipeline order, then writers.
KINDS: Mapping[str, Kind] = {kind.name: kind for kind in (
    Kind(VadStage, "speech"),
    Kind(DiarizationStage, "diarization"),
    Kind(IdentificationStage, "diarization"),
    Kind(AsrStage, "transcript"),
    Kind(AlignStage, "transcript"),
    Kind(AttributionStage, "transcript"),
    Kind(Writer, None),
)}
#: The kinds a graph node may have (every kind but ``writer``).
NODE_KINDS: tuple[str, ...] = tuple(name for name, kind in KINDS.items() if kind.document_part is not None)
#: The stage types a document part holds (``transcript`` → :class:`Transcript`).
PART_TYPES: Mapping[str, type] = {k.document_part: k.output_type for k in KINDS.values() if k.document_part}
