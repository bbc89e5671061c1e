"""The alignment flow shared by aligner stages: route segments, plan windows, time units, QC, reproject.

A backend only answers "where are these units in this audio?" (:class:`AlignerBackend`); everything else —
language routing and fallback, windows of at most ``max_window`` seconds cut at segment boundaries, the one-time
offset, timestamp QC and repair, display text, the ASR's word confidences carried over by text position —
happens here, identically for every backend.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from qasr_plugins.alignment import qc
from qasr_plugins.alignment.confidence import carry_confidence
from qasr_plugins.alignment.reproject import TimedUnit, reproject
from qasr_plugins.alignment.text import Unit
from qasr_plugins.alignment.windows import Window, plan_windows
from qasr_plugins.errors import QasrError
from qasr_plugins.languages import normalize_language, primary_tag
from qasr_plugins.stage import AlignInput
from qasr_plugins.types import Audio, Span, Transcript, TranscriptSegment, Word

logger = logging.getLogger(__name__)

UNTIMED = "untimed"
UNALIGNED_SEGMENT = "unaligned"


@dataclass(frozen=True)
class AlignRequest:
    """Time ``units`` (in order) in ``audio`` (cropped; its ``offset`` is absolute) written in ``language``."""

    audio: Audio
    units: tuple[Unit, ...]
    language: str | None


class AlignerBackend(Protocol):
    """What a model offers the flow: unit splitting and timing, absolute seconds, ``None`` for untimed units."""

    def supports(self, language: str | None) -> bool: ...

    def split(self, text: str, language: str | None) -> list[Unit]: ...

    def align(self, requests: Sequence[AlignRequest]) -> list[list[Span | None]]: ...


@dataclass(frozen=True)
class FlowSettings:
    language: str | None = None
    max_window: float = 180.0
    group_segments: bool = False
    batch_size: int = 1
    repair: bool = True
    realign: bool = True
    qc: qc.QcSettings = field(default_factory=qc.QcSettings)


#: Aligns the segments a backend cannot handle; returns the transcript with those segments' words timed.
Fallback = Callable[[AlignInput], Transcript]


def align_transcript(backend: AlignerBackend, item: AlignInput, settings: FlowSettings,
                     fallback: Fallback | None = None) -> Transcript:
    """A new transcript whose segments carry display words timed by ``backend`` (or by ``fallback``)."""
    segments = list(item.transcript.segments)
    languages = [normalize_language(settings.language or s.language or primary_tag(s.language_raw))
                 for s in segments]
    routed = [i for i, s in enumerate(segments) if s.text.strip() and not backend.supports(languages[i])]
    mine = [i for i, s in enumerate(segments) if s.text.strip() and i not in routed]
    units = {i: backend.split(segments[i].text, languages[i]) for i in mine}
    result = list(segments)
    for i, s in enumerate(segments):
        if not s.text.strip():
            result[i] = replace(s, words=())
    timed = _time_units(backend, item.audio, [segments[i] for i in mine], [units[i] for i in mine],
                        [languages[i] for i in mine], settings)
    for i, timed_units in zip(mine, timed, strict=True):
        result[i] = replace(segments[i], words=reproject(segments[i].text, timed_units, languages[i]))
    if routed:
        for i, segment in zip(routed, _route(item, [segments[i] for i in routed], fallback), strict=True):
            result[i] = segment
    for i, s in enumerate(result):
        if s.words and segments[i].words:
            result[i] = replace(s, words=carry_confidence(segments[i].text, segments[i].words, s.words))
    return Transcript(item.transcript.uri, tuple(result))


def _time_units(backend: AlignerBackend, audio: Audio, segments: Sequence[TranscriptSegment],
                units: Sequence[list[Unit]], languages: Sequence[str | None],
                settings: FlowSettings) -> list[list[TimedUnit]]:
    spans = [s.span.clamped(audio.span.start, audio.span.end) for s in segments]
    windows = plan_windows(spans, [[len(u.text) for u in us] for us in units], audio, settings.max_window,
                           settings.group_segments)
    raw: list[list[Span | None]] = [[None] * len(us) for us in units]
    order = sorted(range(len(windows)), key=lambda k: windows[k].span.duration)
    for start in range(0, len(order), settings.batch_size):
        chosen = [windows[k] for k in order[start:start + settings.batch_size]]
        answers = backend.align([_request(audio, w, units, languages) for w in chosen])
        for window, answer in zip(chosen, answers, strict=True):
            cursor = 0
            for piece in window.pieces:
                size = piece.stop - piece.first
                raw[piece.segment][piece.first:piece.stop] = answer[cursor:cursor + size]
                cursor += size
    voicing = qc.Voicing(audio.waveform, audio.sample_rate, audio.offset) if settings.repair else None
    timed: list[list[TimedUnit]] = [[] for _ in units]
    for piece in sorted((p for w in windows for p in w.pieces), key=lambda p: (p.segment, p.first)):
        chosen = units[piece.segment][piece.first:piece.stop]
        found = raw[piece.segment][piece.first:piece.stop]
        if settings.repair:
            realign = _realigner(backend, audio, chosen, languages[piece.segment]) if settings.realign else None
            checked = qc.repair(found, piece.span, [u.text for u in chosen], voicing, realign, settings.qc)
            pairs = [(s, (qc.REPAIRED,) if r else ()) for s, r in zip(checked.spans, checked.repaired, strict=True)]
        else:
            pairs = [(None, (UNTIMED,)) if s is None else (s.clamped(piece.span.start, piece.span.end), ())
                     for s in found]
        timed[piece.segment].extend(TimedUnit(u, s, f) for u, (s, f) in zip(chosen, pairs, strict=True))
    return timed


def _request(audio: Audio, window: Window, units: Sequence[list[Unit]], languages: Sequence[str | None]
             ) -> AlignRequest:
    chosen = tuple(u for p in window.pieces for u in units[p.segment][p.first:p.stop])
    return AlignRequest(audio.crop(window.span), chosen, languages[window.pieces[0].segment])


def _realigner(backend: AlignerBackend, audio: Audio, units: Sequence[Unit], language: str | None) -> qc.Realign:
    def realign(window: Span, first: int, stop: int) -> list[Span] | None:
        answer = backend.align([AlignRequest(audio.crop(window), tuple(units[first:stop]), language)])[0]
        return None if any(s is None for s in answer) else [s for s in answer if s is not None]

    return realign


def _route(item: AlignInput, segments: Sequence[TranscriptSegment], fallback: Fallback | None
           ) -> list[TranscriptSegment]:
    """Segments in languages the backend cannot align: through ``fallback``, else kept with untimed words."""
    if fallback is not None:
        try:
            aligned = fallback(AlignInput(item.audio, Transcript(item.transcript.uri, tuple(segments))))
            if len(aligned.segments) == len(segments):
                return list(aligned.segments)
            logger.warning("fallback aligner returned %d segments for %d; keeping segment times",
                           len(aligned.segments), len(segments))
        except QasrError as exc:
            logger.warning("fallback aligner failed on %s: %s; keeping segment times", item.transcript.uri,
                           exc.render())
    return [_untimed(s) for s in segments]


def _untimed(segment: TranscriptSegment) -> TranscriptSegment:
    words = tuple(Word(token, None, flags=(UNTIMED,)) for token in segment.text.split())
    return replace(segment, words=words, flags=tuple(dict.fromkeys((*segment.flags, UNALIGNED_SEGMENT))))
