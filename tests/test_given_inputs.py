"""Given values: a pipeline input supplied with each recording (e.g. the text ``qasr align`` aligns), wired by name,
typed by its document part and checked for the capabilities it declares, like a node's output."""

from __future__ import annotations

import pytest

from qasr_plugins.errors import ConfigErrors, InputError
from qasr_plugins.executor import Executor
from qasr_plugins.graph import load_pipeline
from qasr_plugins.testing.dummies import dummy_audio
from qasr_plugins.types import Span, Transcript, TranscriptSegment, Word


def _pipeline(part: str = "transcript", provides: tuple[str, ...] = ("text", "language", "words"),
              source: str = "text") -> dict:
    return {"name": "given", "defaults": [{"/stages/align": "fake"}, "_self_"],
            "given": {"text": {"part": part, "provides": list(provides)}},
            "graph": {"align": {"kind": "align", "inputs": {"transcript": source}}}}


def _codes(config: dict) -> set[tuple[str, str]]:
    with pytest.raises(ConfigErrors) as info:
        load_pipeline(config)
    return {(e.code, e.where) for e in info.value.errors}


def test_given_transcript_is_aligned_by_the_runner(fake_pipeline) -> None:
    spec = load_pipeline(_pipeline())
    assert [g.name for g in spec.given] == ["text"] and spec.transcript_node == "align"
    assert "given: text (transcript)" in spec.describe()
    audio = dummy_audio(uri="a")
    text = Transcript("a", (TranscriptSegment(Span(0.0, 1.0), "hi there", "en", words=(Word("hi"), Word("there"))),))
    document = Executor(spec).process([audio], given=[{"text": text}])[0]
    assert [w.span for w in document.transcript.segments[0].words] == [Span(0.0, 0.5), Span(0.5, 1.0)]
    assert [r.node for r in document.provenance] == ["align"]


def test_a_missing_or_mistyped_given_value_is_an_input_error(fake_pipeline) -> None:
    executor = Executor(load_pipeline(_pipeline()))
    for given in ([{}], [{"text": "not a transcript"}], None):
        with pytest.raises(InputError) as info:
            executor.process([dummy_audio(uri="a")], given=given)
        assert (info.value.code, info.value.where) == ("I304", "given.text")


def test_given_values_are_checked_like_node_outputs(fake_pipeline) -> None:
    assert ("C108", "graph.align.inputs.transcript") in _codes(_pipeline(provides=("text",)))
    assert ("C106", "graph.align.inputs.transcript") in _codes(_pipeline(part="speech"))
    assert ("C103", "given.text.part") in _codes(_pipeline(part="words"))
    assert ("C105", "graph.align.inputs.transcript") in _codes(_pipeline(source="txt"))
    config = _pipeline()
    config["given"]["text"]["provide"] = []
    assert ("C102", "given.text.provide") in _codes(config)
