"""The contract test suites. Plugin authors run them against their own stages and writers:

.. code-block:: python

    # tests/test_my_plugin.py
    from qasr_plugins.testing.contract import StageContract, WriterContract
    from my_plugin import MyVad, MyWriter

    class TestMyVad(StageContract):
        stage_class = MyVad
        settings = {"threshold": 0.4}
        registered_name = "my.vad"      # optional: also check the entry point

    class TestMyWriter(WriterContract):
        writer_class = MyWriter
        registered_name = "my_format"

A stage whose input needs more than audio (an aligner's transcript, an attribution's or identification's
diarization) gets a representative one from :func:`default_input`; override :meth:`StageContract.make_input` to
feed it another.
Every check is also a plain function (``check_*``) for use outside pytest.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from qasr_plugins.document import ResultDocument
from qasr_plugins.stage import (
    LANGUAGE,
    SPEAKERS,
    TEXT,
    WORD_TIMESTAMPS,
    WORDS,
    AlignInput,
    AnyOf,
    AsrInput,
    AttributionInput,
    DiarizationInput,
    IdentificationInput,
    Requirement,
    Stage,
    VadInput,
    Writer,
)
from qasr_plugins.testing.dummies import dummy_audio, dummy_diarization, dummy_document, dummy_transcript
from qasr_plugins.types import SAMPLE_RATE, Audio, Span


def default_input(kind: str, audio: Audio) -> Any:
    """A representative input of each stage kind for ``audio``: an aligner gets an English transcript of the
    audio's middle half (words, no times); an attribution stage gets it with timed words and two speakers'
    turns over it; an identification stage gets those two speakers' turns."""
    seconds, where = audio.duration, {"uri": audio.uri, "offset": audio.offset}
    if kind == "align":
        return AlignInput(audio, dummy_transcript(seconds=seconds, language_raw="English", **where))
    quarter = seconds / 4
    turns = [("A", quarter, 2 * quarter), ("B", 2 * quarter, 3 * quarter)]
    if kind == "attribution":
        return AttributionInput(dummy_transcript(["hello there", "good morning"], seconds=seconds, timed=True,
                                                 **where), dummy_diarization(turns, **where))
    if kind == "identification":
        return IdentificationInput(audio, dummy_diarization(turns, **where))
    return {"vad": VadInput, "diarization": DiarizationInput, "asr": AsrInput}[kind](audio)


def iter_spans(value: Any) -> Iterator[Span]:
    """Every :class:`Span` inside a stage output (recursively through dataclasses and tuples)."""
    if isinstance(value, Span):
        yield value
    elif is_dataclass(value) and not isinstance(value, type):
        for f in fields(value):
            yield from iter_spans(getattr(value, f.name))
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from iter_spans(item)


def check_config_rejects_unknown_keys(stage_class: type[Stage[Any, Any]], settings: Mapping[str, Any]) -> None:
    from pydantic import ValidationError

    try:
        stage_class.Config(**{**settings, "no_such_setting_xyz": 1})
    except ValidationError as exc:
        assert any(e["type"] == "extra_forbidden" for e in exc.errors()), exc
    else:
        raise AssertionError(f"{stage_class.__name__}.Config accepted an unknown key; derive it from StageConfig")


def check_registered(kind: str, name: str | None, cls: type[Any]) -> None:
    """The registry resolves ``name`` to ``cls`` (skipped when no name is given)."""
    from qasr_plugins import registry

    if name is None:
        pytest.skip("no registered_name set: the entry point is not checked")
    assert registry.load(kind, name) is cls, f"{kind} {name!r} resolves to another class"


def check_batch(stage: Stage[Any, Any], inputs: list[Any]) -> list[Any]:
    """One output per input, of the kind's declared type, in order; an empty batch gives an empty list."""
    stage.ensure_loaded()
    assert stage.process([]) == [], "an empty batch must return an empty list"
    outputs = stage.process(inputs)
    assert isinstance(outputs, list) and len(outputs) == len(inputs), "process() must return one output per input"
    for out in outputs:
        assert isinstance(out, stage.Output), f"expected {stage.Output.__name__}, got {type(out).__name__}"
    return outputs


def check_spans_inside(output: Any, audio: Audio, tolerance: float = 0.011) -> None:
    """Every span lies inside the audio's absolute span (offsets applied exactly once)."""
    bounds = audio.span
    for span in iter_spans(output):
        assert bounds.start - tolerance <= span.start and span.end <= bounds.end + tolerance, (
            f"span {span} lies outside the audio {bounds}: offsets must be applied exactly once")


class StageContract:
    """Pytest mix-in: set :attr:`stage_class` (and optionally :attr:`settings`, :attr:`settings_from_fixtures`,
    :attr:`registered_name`)."""

    stage_class: ClassVar[type[Stage[Any, Any]]]
    settings: ClassVar[Mapping[str, Any]] = {}
    #: Settings whose values pytest fixtures make, setting → fixture name (e.g. ``{"model": "tiny_model"}`` for a
    #: model a fixture builds); the fixture's value is passed as a string (paths).
    settings_from_fixtures: ClassVar[Mapping[str, str]] = {}
    registered_name: ClassVar[str | None] = None

    @pytest.fixture(autouse=True)
    def _settings_from_fixtures(self, request: pytest.FixtureRequest) -> None:
        if self.settings_from_fixtures:
            self.settings = {**self.settings, **{key: str(request.getfixturevalue(name))
                                                 for key, name in self.settings_from_fixtures.items()}}

    def make_stage(self) -> Stage[Any, Any]:
        return self.stage_class(**self.settings)

    def make_input(self, audio: Audio) -> Any:
        """Override to feed the stage a richer input."""
        return default_input(self.stage_class.kind, audio)

    def test_config_rejects_unknown_keys(self) -> None:
        check_config_rejects_unknown_keys(self.stage_class, self.settings)

    def test_registered(self) -> None:
        check_registered(self.stage_class.kind, self.registered_name, self.stage_class)

    def test_types_and_batching(self) -> None:
        stage = self.make_stage()
        audios = [dummy_audio(uri="a"), dummy_audio(3.0, uri="b")]
        outputs = check_batch(stage, [self.make_input(a) for a in audios])
        for audio, out in zip(audios, outputs, strict=True):
            assert getattr(out, "uri", audio.uri) == audio.uri, "outputs keep the input's uri"

    def test_silence_and_tiny_input(self) -> None:
        stage = self.make_stage()
        silent = Audio("silence", np.zeros(SAMPLE_RATE, dtype=np.float32))
        tiny = Audio("tiny", np.zeros(80, dtype=np.float32))
        check_batch(stage, [self.make_input(silent), self.make_input(tiny)])

    def test_offsets_applied_once(self) -> None:
        stage = self.make_stage()
        base = dummy_audio(uri="offset")
        shifted = dummy_audio(uri="offset", offset=100.0)
        plain, moved = check_batch(stage, [self.make_input(base), self.make_input(shifted)])
        check_spans_inside(moved, shifted)
        for a, b in zip(iter_spans(plain), iter_spans(moved), strict=True):
            assert abs((b.start - a.start) - 100.0) < 0.05, f"{b} is not {a} shifted by the audio offset"

    def test_deterministic(self) -> None:
        stage = self.make_stage()
        item = self.make_input(dummy_audio(uri="determinism"))
        assert check_batch(stage, [item]) == check_batch(stage, [item]), "same input, same output"


def document_capabilities(document: ResultDocument) -> frozenset[str]:
    """The parts and capabilities ``document`` actually has, in the terms of :meth:`Writer.requires`."""
    found = {part for part in ("speech", "diarization", "transcript") if getattr(document, part) is not None}
    if document.transcript is not None:
        words = list(document.transcript.words())
        found |= {TEXT} | ({WORDS} if words else set())
        found |= {WORD_TIMESTAMPS} if words and all(w.span is not None for w in words) else set()
        found |= {SPEAKERS} if any(w.speaker for w in words) or any(
            s.speaker for s in document.transcript.segments) else set()
        found |= {LANGUAGE} if document.transcript.languages else set()
    return frozenset(found)


def meets(requirements: frozenset[Requirement], capabilities: frozenset[str]) -> bool:
    return all(r.met_by(capabilities) if isinstance(r, AnyOf) else r in capabilities for r in requirements)


#: Documents lacking one optional part or more (``dummy_document`` arguments); a writer must render each one its
#: :meth:`Writer.requires` accepts.
PARTIAL_DOCUMENTS: dict[str, dict[str, Any]] = {
    "full": {},
    "no speech": {"speech": False},
    "no diarization": {"diarization": False},
    "no speakers": {"speakers": None},
    "untimed words": {"timed": False},
    "no words": {"words": False},
    "no language": {"language": None},
    "no transcript": {"transcript": False},
    "nothing": {"speech": False, "diarization": False, "transcript": False},
}

#: Non-ASCII text in every place a writer may show it: CJK characters, accents, a non-ASCII speaker.
NON_ASCII: dict[str, Any] = {"texts": ["你好，世界", "Grüße, señor"], "speakers": ("說話人 1", "Jürgen"),
                             "language": "zh", "unit": "char"}


def check_rendered(output: Any) -> None:
    assert isinstance(output, (str, bytes)), f"render() must return str or bytes, got {type(output).__name__}"
    if isinstance(output, str):
        output.encode("utf-8")  # no lone surrogates
        assert "\ufffd" not in output, "render() replaced characters it could not encode"


def check_suffix(writer_class: type[Writer]) -> None:
    suffix = getattr(writer_class, "suffix", None)
    assert isinstance(suffix, str) and suffix, f"{writer_class.__name__}.suffix must be a non-empty string"
    assert not suffix.startswith(".") and "/" not in suffix and "\\" not in suffix, (
        f"suffix {suffix!r}: give it without the dot and without directories (the runner writes <uri>.<suffix>)")


def stage_contract(stage_class: type[Stage[Any, Any]], registered_name: str | None = None, *,
                   settings: Mapping[str, Any] | None = None,
                   settings_from_fixtures: Mapping[str, str] | None = None) -> type[StageContract]:
    """A :class:`StageContract` test class in one line: ``TestMyVad = stage_contract(MyVad, "my.vad")`` in a test
    module (pytest collects it under that name)."""
    caller = sys._getframe(1).f_globals.get("__name__", __name__)
    return type(f"Test{stage_class.__name__}Contract", (StageContract,), {
        "stage_class": stage_class, "registered_name": registered_name, "settings": dict(settings or {}),
        "settings_from_fixtures": dict(settings_from_fixtures or {}), "__module__": caller})


class WriterContract:
    """Pytest mix-in: set :attr:`writer_class` (and optionally :attr:`settings`, :attr:`registered_name`)."""

    writer_class: ClassVar[type[Writer]]
    settings: ClassVar[Mapping[str, Any]] = {}
    registered_name: ClassVar[str | None] = None

    def make_writer(self) -> Writer:
        """A writer bound, as the runner binds it, to an output directory with itself as the run's only format."""
        writer = self.writer_class(**self.settings)
        writer.bind(Path("qasr-contract-output"), {self.registered_name or writer.suffix: writer})
        return writer

    def render(self, document: ResultDocument) -> str | bytes:
        output = self.make_writer().render(document)
        check_rendered(output)
        return output

    def accepts(self, document: ResultDocument) -> bool:
        """Whether :meth:`Writer.requires` allows ``document`` (a pipeline could hand it to this writer)."""
        config = self.writer_class.Config(**self.settings)
        return meets(frozenset(self.writer_class.requires(config)), document_capabilities(document))

    def test_config_rejects_unknown_keys(self) -> None:
        check_config_rejects_unknown_keys(self.writer_class, self.settings)

    def test_registered(self) -> None:
        check_registered("writer", self.registered_name, self.writer_class)

    def test_suffix(self) -> None:
        check_suffix(self.writer_class)

    def test_renders_a_full_document(self) -> None:
        assert self.render(dummy_document()), "a document with every part must give some output"

    def test_deterministic(self) -> None:
        document = dummy_document()
        writer = self.make_writer()
        first = writer.render(document)
        assert writer.render(document) == first == self.render(document), "same document, same output"

    def test_empty_document(self) -> None:
        """Every part present but empty, as a pipeline gives for silence."""
        self.render(dummy_document([]))

    def test_documents_lacking_optional_parts(self) -> None:
        """Each of :data:`PARTIAL_DOCUMENTS` that :meth:`Writer.requires` allows."""
        for variant, arguments in PARTIAL_DOCUMENTS.items():
            document = dummy_document(**arguments)
            if not self.accepts(document):
                continue
            try:
                self.render(document)
            except Exception as exc:
                raise AssertionError(f"a document with {variant} (which requires() allows) failed: {exc!r}") from exc

    def test_non_ascii_text(self) -> None:
        plain, other = self.render(dummy_document()), self.render(dummy_document(**NON_ASCII))
        if isinstance(plain, str) and isinstance(other, str):
            if "hello" in plain:
                assert "你" in other and "ü" in other, "text shown for ASCII must be shown for CJK and accents"
            if "SPEAKER_00" in plain:
                assert "說話人" in other, "speakers shown when ASCII must be shown when not"
