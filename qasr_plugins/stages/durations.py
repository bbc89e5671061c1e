"""The region settings VAD stages share: the shortest speech kept, the shortest silence that splits, the padding."""

from __future__ import annotations

from pydantic import Field

from qasr_plugins.settings import StageConfig
from qasr_plugins.tuning import uniform


class SpeechDurations(StageConfig):
    """Turning detected speech into regions. A stage with other sensible defaults takes
    ``with_defaults(SpeechDurations, …)`` (:func:`qasr_plugins.settings.with_defaults`)."""

    min_speech_duration: float = Field(0.25, ge=0, le=60, json_schema_extra=uniform(0.0, 1.0),
                                       description="Drop speech shorter than this (s).")
    min_silence_duration: float = Field(0.3, ge=0, le=60, json_schema_extra=uniform(0.0, 1.0),
                                        description="Merge across silences shorter than this (s).")
    speech_pad: float = Field(0.05, ge=0, le=10, json_schema_extra=uniform(0.0, 0.3),
                              description="Pad each region by this much on both sides (s).")
