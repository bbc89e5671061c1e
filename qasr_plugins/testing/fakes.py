"""Deterministic fake stages for graph and runner tests. They compute nothing useful; they exist so a graph can
be exercised without models. Register them in a test-only distribution's entry points to use them from YAML."""

from __future__ import annotations

import time
from collections.abc import Sequence

from pydantic import Field

from qasr_plugins.stage import (
    LANGUAGE,
    TEXT,
    WORDS,
    AlignInput,
    AlignStage,
    AsrInput,
    AsrStage,
    DiarizationInput,
    DiarizationStage,
    StageConfig,
    VadInput,
    VadStage,
)
from qasr_plugins.types import Diarization, Span, SpeakerTurns, SpeechRegions, Transcript, TranscriptSegment, Turn, Word

LOADS: dict[str, int] = {}
"""How many times each fake class has loaded (tests check that models load once per run)."""


def _count_load(stage: object) -> None:
    name = type(stage).__name__
    LOADS[name] = LOADS.get(name, 0) + 1


class FakeVadConfig(StageConfig):
    window: float = Field(2.0, gt=0, description="Speech windows of this length…")
    gap: float = Field(1.0, ge=0, description="…separated by gaps of this length.")


class FakeVad(VadStage):
    """Alternating speech/silence windows over the whole audio."""

    config: FakeVadConfig

    def load(self) -> None:
        _count_load(self)

    def process(self, batch: Sequence[VadInput]) -> list[SpeechRegions]:
        return [self._windows(item.audio.uri, item.audio.span) for item in batch]

    def _windows(self, uri: str, span: Span) -> SpeechRegions:
        regions, t = [], span.start
        while t < span.end:
            regions.append(Span(t, min(span.end, t + self.config.window)))
            t += self.config.window + self.config.gap
        return SpeechRegions(uri, tuple(r for r in regions if r.duration > 0))


class FakeDiarizationConfig(StageConfig):
    speakers: int = Field(2, ge=1)


class FakeDiarization(DiarizationStage):
    """Speech regions (or the whole audio) assigned to speakers in turn."""

    config: FakeDiarizationConfig

    def load(self) -> None:
        _count_load(self)

    def process(self, batch: Sequence[DiarizationInput]) -> list[Diarization]:
        return [self._in_turn(item) for item in batch]

    def _in_turn(self, item: DiarizationInput) -> Diarization:
        regions = tuple(item.speech) if item.speech is not None else (item.audio.span,)
        turns = tuple(Turn(r, f"SPEAKER_{i % self.config.speakers:02d}") for i, r in enumerate(regions))
        return Diarization(SpeakerTurns(item.audio.uri, turns, exclusive=True))


class FakeAsrConfig(StageConfig):
    language: str | None = Field("en", description="Language to report; null means none (no LID).")
    words_per_second: float = Field(2.0, gt=0)
    fail_on: str | None = Field(None, description="Raise for audio whose uri contains this text.")
    delay: float = Field(0.0, ge=0, description="Seconds to sleep per input (keeps a run busy for interruption "
                                                "and concurrency tests).")


class FakeAsr(AsrStage):
    """One segment per region/turn (or the whole audio) with words ``w0 w1 …`` and no timestamps."""

    config: FakeAsrConfig

    @classmethod
    def provides(cls, config: StageConfig) -> frozenset[str]:
        return frozenset({TEXT, WORDS} | ({LANGUAGE} if config.language else set()))

    def load(self) -> None:
        _count_load(self)

    def process(self, batch: Sequence[AsrInput]) -> list[Transcript]:
        out = []
        for item in batch:
            if self.config.fail_on and self.config.fail_on in item.audio.uri:
                raise RuntimeError(f"fake failure for {item.audio.uri}")
            time.sleep(self.config.delay)
            if item.diarization is not None:
                pieces = [(t.span, t.speaker) for t in item.diarization.turns]
            elif item.speech is not None:
                pieces = [(r, None) for r in item.speech]
            else:
                pieces = [(item.audio.span, None)]
            segments = []
            for span, speaker in pieces:
                count = max(1, int(span.duration * self.config.words_per_second))
                words = tuple(Word(f"w{i}") for i in range(count))
                segments.append(TranscriptSegment(span, " ".join(w.text for w in words), self.config.language,
                                                  self.config.language, speaker=speaker, words=words))
            out.append(Transcript(item.audio.uri, tuple(segments)))
        return out


class FakeAligner(AlignStage):
    """Spreads each segment's words evenly over the segment. Requires a language, like real aligners."""

    @classmethod
    def requires(cls, config: StageConfig) -> dict[str, frozenset[str]]:
        return {"transcript": frozenset({LANGUAGE, WORDS})}

    @classmethod
    def unmet_hint(cls, port: str, capability: str) -> str:
        return f"Use an ASR stage that provides {capability!r} (e.g. set its language)."

    def process(self, batch: Sequence[AlignInput]) -> list[Transcript]:
        out = []
        for item in batch:
            segments = []
            for seg in item.transcript.segments:
                step = seg.span.duration / max(1, len(seg.words))
                words = tuple(Word(w.text, Span(seg.span.start + i * step, seg.span.start + (i + 1) * step),
                                   w.speaker, unit=w.unit) for i, w in enumerate(seg.words))
                segments.append(TranscriptSegment(seg.span, seg.text, seg.language, seg.language_raw,
                                                  seg.language_confidence, seg.speaker, words, seg.flags))
            out.append(Transcript(item.transcript.uri, tuple(segments)))
        return out
