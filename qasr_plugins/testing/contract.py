"""The stage contract test suite. Plugin authors run it against their own stage:

.. code-block:: python

    # tests/test_my_stage.py
    from qasr_plugins.testing.contract import StageContract
    from my_plugin import MyVad

    class TestMyVad(StageContract):
        stage_class = MyVad
        settings = {"threshold": 0.4}
        registered_name = "my.vad"      # optional: also check the entry point

Every check is also a plain function (``check_*``) for use outside pytest.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import fields, is_dataclass
from typing import Any, ClassVar

import numpy as np

from qasr_plugins.stage import (
    AlignInput,
    AsrInput,
    AttributionInput,
    DiarizationInput,
    Stage,
    VadInput,
)
from qasr_plugins.types import (
    SAMPLE_RATE,
    Audio,
    Diarization,
    Span,
    SpeakerTurns,
    Transcript,
    TranscriptSegment,
    Turn,
    Word,
)


def test_audio(uri: str = "contract", seconds: float = 6.0, offset: float = 0.0) -> Audio:
    """Deterministic audio: silence, then 3 s of voiced-like harmonic bursts, then silence."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    rng = np.random.default_rng(0)
    voiced = sum(np.sin(2 * np.pi * f0 * k * t) / k for f0 in (120.0,) for k in range(1, 12))
    envelope = ((t > 1.5) & (t < 4.5)) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2)
    wave = 0.3 * voiced * envelope + 0.002 * rng.standard_normal(t.size)
    return Audio(uri, wave.astype(np.float32), SAMPLE_RATE, offset=offset)


def default_input(kind: str, audio: Audio) -> Any:
    """A representative input of each stage kind for ``audio``."""
    span = audio.span
    middle = Span(span.start + span.duration * 0.25, span.start + span.duration * 0.75)
    words = (Word("hello"), Word("world"))
    transcript = Transcript(audio.uri, (TranscriptSegment(middle, "hello world", "en", "English", words=words),))
    turns = SpeakerTurns(audio.uri, (Turn(middle, "A"),), exclusive=True)
    return {
        "vad": lambda: VadInput(audio),
        "diarization": lambda: DiarizationInput(audio),
        "asr": lambda: AsrInput(audio),
        "align": lambda: AlignInput(audio, transcript),
        "attribution": lambda: AttributionInput(transcript, Diarization(turns)),
    }[kind]()


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
    """Pytest mix-in: set :attr:`stage_class` (and optionally :attr:`settings`, :attr:`registered_name`)."""

    stage_class: ClassVar[type[Stage[Any, Any]]]
    settings: ClassVar[Mapping[str, Any]] = {}
    registered_name: ClassVar[str | None] = None

    def make_stage(self) -> Stage[Any, Any]:
        return self.stage_class(**self.settings)

    def make_input(self, audio: Audio) -> Any:
        """Override to feed the stage a richer input."""
        return default_input(self.stage_class.kind, audio)

    def test_config_rejects_unknown_keys(self) -> None:
        check_config_rejects_unknown_keys(self.stage_class, self.settings)

    def test_registered(self) -> None:
        if self.registered_name is None:
            return
        from qasr_plugins import registry

        assert registry.load(self.stage_class.kind, self.registered_name) is self.stage_class

    def test_types_and_batching(self) -> None:
        stage = self.make_stage()
        audios = [test_audio("a"), test_audio("b", seconds=3.0)]
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
        base = test_audio("offset", seconds=6.0)
        shifted = test_audio("offset", seconds=6.0, offset=100.0)
        plain, moved = check_batch(stage, [self.make_input(base), self.make_input(shifted)])
        check_spans_inside(moved, shifted)
        for a, b in zip(iter_spans(plain), iter_spans(moved), strict=True):
            assert abs((b.start - a.start) - 100.0) < 0.05, f"{b} is not {a} shifted by the audio offset"

    def test_deterministic(self) -> None:
        stage = self.make_stage()
        item = self.make_input(test_audio("determinism"))
        assert check_batch(stage, [item]) == check_batch(stage, [item]), "same input, same output"
