"""What an ASR stage transcribes: the graph's diarization turns, else its speech regions, else the whole file — cut,
joined and widened to a backend's :class:`~qasr_plugins.asr.backend.AsrLimits`."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from qasr_plugins.asr.backend import AsrLimits, Piece
from qasr_plugins.asr.chunks import plan_chunks
from qasr_plugins.energy import speech_spans
from qasr_plugins.stage import AsrInput
from qasr_plugins.types import Audio, Span

#: A span to transcribe and the speaker of the turn it comes from.
Region = tuple[Span, str | None]


def wired_regions(item: AsrInput) -> list[Region] | None:
    """The spans the graph asks to transcribe, clamped to the audio, with their speakers; ``None`` when neither
    diarization nor speech regions are wired.

    Diarization turns win over speech regions (they carry speakers); the exclusive turns are used when present so
    overlapped speech is not transcribed twice.
    """
    bounds = item.audio.span
    if item.diarization is not None:
        turns = item.diarization.best.turns
        spans = [(t.span, t.speaker) for t in turns]
    elif item.speech is not None:
        spans = [(r, None) for r in item.speech.regions]
    else:
        return None
    return [(span.clamped(bounds.start, bounds.end), speaker) for span, speaker in spans
            if span.overlap(bounds) > 0]


def plan_pieces(index: int, item: AsrInput, limits: AsrLimits) -> list[Piece]:
    """The pieces of input number ``index``, in time order.

    The wired regions (:func:`wired_regions`; else the energy detector's speech when ``limits.find_speech``, else the
    whole file) are joined per speaker across short pauses (``limits.merge_gap``), cut at quiet points to the
    longest piece, widened by ``limits.context`` without reaching into a neighbour, and cropped; pieces shorter than
    ``limits.shortest`` are zero-padded to it or dropped.
    """
    audio = item.audio
    regions = wired_regions(item)
    if regions is None:
        regions = _speech(audio) if limits.find_speech else [(audio.span, None)]
    regions = [(span, speaker) for span, speaker in regions if span.duration > 0]
    if limits.merge_gap is not None:
        regions = _joined(regions, limits.merge_gap, limits.chunks.max_seconds)
    cut = [(part, speaker) for span, speaker in regions for part in plan_chunks(audio, span, limits.chunks)]
    shortest = round(limits.shortest * audio.sample_rate)
    pieces = []
    for span, speaker in _widened(cut, limits.context, audio.span):
        if span.duration <= 0 or (span.duration < limits.shortest and not limits.pad_short):
            continue
        crop = audio.crop(span)
        if len(crop.waveform) < shortest:
            crop = replace(crop, waveform=np.pad(crop.waveform, (0, shortest - len(crop.waveform))))
        pieces.append(Piece(index, span, speaker, crop, audio))
    return pieces


def _speech(audio: Audio) -> list[Region]:
    return [(Span(audio.offset + start, audio.offset + end), None)
            for start, end in speech_spans(audio.waveform, audio.sample_rate)]


def _joined(regions: list[Region], gap: float, longest: float) -> list[Region]:
    """One speaker's neighbouring regions joined across pauses shorter than ``gap`` while within ``longest``."""
    joined: list[Region] = []
    for span, speaker in sorted(regions, key=lambda region: region[0]):
        if joined:
            last, last_speaker = joined[-1]
            if (last_speaker == speaker and span.start - last.end < gap
                    and max(span.end, last.end) - last.start <= longest):
                joined[-1] = (Span(last.start, max(last.end, span.end)), speaker)
                continue
        joined.append((span, speaker))
    return joined


def _widened(regions: list[Region], context: float, bounds: Span) -> list[Region]:
    """Each region widened by ``context`` on both sides, within ``bounds`` and at most to the middle of the pause
    before or after it, so that neighbours never overlap."""
    widened: list[Region] = []
    for index, (span, speaker) in enumerate(regions):
        before = (regions[index - 1][0].end + span.start) / 2 if index else bounds.start
        after = (span.end + regions[index + 1][0].start) / 2 if index + 1 < len(regions) else bounds.end
        lower = max(bounds.start, before, span.start - context)
        upper = min(bounds.end, after, span.end + context)
        widened.append((Span(min(lower, span.start), max(upper, span.end)), speaker))
    return widened
