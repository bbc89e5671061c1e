"""A stage or writer declares its settings schema once, as the type of ``config``; ``Config`` follows from it."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from pydantic import Field

from qasr_plugins.stage import StageConfig, VadInput, VadStage, Writer
from qasr_plugins.types import SpeechRegions


class LoudConfig(StageConfig):
    threshold: float = Field(0.1, gt=0, lt=1)


class Loud(VadStage):
    config: LoudConfig

    def process(self, batch: Sequence[VadInput]) -> list[SpeechRegions]:
        return [SpeechRegions(item.audio.uri) for item in batch]


def test_config_is_taken_from_the_annotation() -> None:
    assert Loud.Config is LoudConfig
    assert Loud(threshold=0.3).config == LoudConfig(threshold=0.3)
    with pytest.raises(ValueError, match="threshold"):
        Loud(threshold=2)


def test_an_explicit_config_wins_and_subclasses_inherit() -> None:
    class Explicit(Loud):
        Config = StageConfig

    class Inherited(Loud):
        pass

    assert Explicit.Config is StageConfig and Inherited.Config is LoudConfig


def test_an_annotation_that_names_no_schema_is_refused_at_class_creation() -> None:
    with pytest.raises(TypeError, match="cannot resolve 'config: Missing'"):
        class Broken(Writer):
            config: Missing  # type: ignore[name-defined] # noqa: F821
            suffix = "x"
    with pytest.raises(TypeError, match="StageConfig subclass"):
        class NotASchema(Writer):
            config: int
            suffix = "x"
