"""Settings every aligner stage shares, and the fallback aligner they may route segments to."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field, model_validator

from qasr_plugins.alignment.engine import Fallback, FlowSettings
from qasr_plugins.alignment.qc import QcSettings
from qasr_plugins.errors import ConfigError, PluginError, QasrError
from qasr_plugins.settings import StageConfig, build_config
from qasr_plugins.stage import AlignInput
from qasr_plugins.types import Transcript


class AlignerConfig(StageConfig):
    LOCAL: ClassVar[frozenset[str]] = frozenset({"fallback", "fallback_settings", "device", "threads"})

    language: str | None = Field(None, description="Language of every segment (BCP-47 or name); default: each "
                                                    "segment's own language.")
    max_window: float = Field(180.0, gt=1, le=600, description="Longest audio window per aligner call (s); "
                                                               "windows are cut at segment boundaries.")
    group_segments: bool = Field(False, description="Align consecutive segments together in one window while "
                                                    "it stays within max_window (fewer calls, gaps included).")
    batch_size: int = Field(1, ge=1, description="Windows per forward pass at most (similar lengths together; "
                                                 "qwen3.forced_aligner runs long windows alone).")
    repair: bool = Field(True, description="Detect and repair timestamp failures (see docs/alignment.md).")
    realign: bool = Field(True, description="Repair suspect runs by re-aligning them in a smaller window first.")
    max_word_duration: float = Field(3.0, gt=0, le=60, description="Longer words are suspect (s).")
    max_char_duration: float = Field(1.2, gt=0, le=60, description="Longer single characters are suspect (s).")
    fallback: str | None = Field(None, description="Registered align stage for segments in languages this "
                                                   "aligner does not support (e.g. ctc.aligner); without one "
                                                   "their words are kept untimed and flagged.")
    fallback_settings: dict[str, Any] = Field(default_factory=dict, description="Settings of the fallback stage.")
    device: str = Field("cpu", description="torch device.")
    threads: int | None = Field(None, ge=1, description="torch intra-op threads (default: torch's).")

    @model_validator(mode="after")
    def _check_fallback(self) -> AlignerConfig:
        """The fallback is another registered align stage and its settings validate against that stage's schema,
        so a bad fallback is a configuration error before any model loads (located at ``fallback`` or
        ``fallback_settings.<key>``)."""
        if self.fallback is None:
            return self
        from qasr_plugins import registry

        try:
            stage_class = registry.load("align", self.fallback)
        except PluginError as exc:  # P203: an unknown name in this config; others keep code and class
            raise (ConfigError(exc.message, where="fallback", code="C101", hint=exc.hint)
                   if exc.code == "P203" else exc.located("fallback")) from exc
        if stage_class.Config is type(self):
            raise ConfigError(f"an aligner cannot fall back to itself ({self.fallback!r}).", where="fallback",
                              code="C150", hint="Name another align stage, e.g. 'ctc.aligner', or remove 'fallback'.")
        build_config(stage_class, self.fallback_settings, "fallback_settings", self.fallback)
        return self

    def flow(self) -> FlowSettings:
        return FlowSettings(self.language, self.max_window, self.group_segments, self.batch_size, self.repair,
                            self.realign, QcSettings(max_word_duration=self.max_word_duration,
                                                     max_char_duration=self.max_char_duration))


def load_fallback(name: str | None, settings: Mapping[str, Any]) -> Fallback | None:
    """The fallback align stage, built through the registry and loaded; ``None`` when none is configured (the name
    and settings were validated with the aligner's own settings)."""
    if name is None:
        return None
    from qasr_plugins import registry

    stage = registry.load("align", name)(**dict(settings))
    try:
        stage.ensure_loaded()
    except QasrError as exc:  # the fallback's settings live under fallback_settings
        raise exc.located("fallback_settings") from exc

    def run(item: AlignInput) -> Transcript:
        return stage.process([item])[0]

    return run
