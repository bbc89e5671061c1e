"""Deterministic stand-ins for audio and stage results, for tests and notebooks.

Every builder lays things out in seconds *into the audio* and takes an ``offset`` that shifts the result to where
the audio lies in its recording, so the same layout and offset give audio, regions, turns and a transcript that
agree with each other::

    from qasr_plugins.testing.dummies import dummy_audio, dummy_transcript, dummy_turns

    turns = dummy_turns([("A", 0.5, 2.5), ("B", 3.0, 5.5)])
    audio = dummy_audio(6.0, turns)                       # A and B speak at different pitches
    transcript = dummy_transcript(["hello there", "good morning"], spans=[(0.5, 2.5), (3.0, 5.5)],
                                  speakers=["A", "B"], timed=True)

The audio is speech-like for energy- and model-based stages (a voiced harmonic series at a speaker's pitch,
modulated at a syllable rate, over a faint noise floor); it carries no words.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from qasr_plugins.document import AudioInfo, ResultDocument
from qasr_plugins.types import (
    SAMPLE_RATE,
    Audio,
    Diarization,
    Span,
    SpeakerTurns,
    SpeechRegions,
    Transcript,
    TranscriptSegment,
    Turn,
    Word,
    WordUnit,
)

#: Pitches (Hz) given to speakers in order of first appearance: far enough apart to tell voices apart.
PITCHES: tuple[float, ...] = (120.0, 210.0, 160.0, 260.0, 95.0, 185.0)

#: Where an item of ``dummy_audio(speech=...)`` speaks: seconds into the audio, optionally with a speaker.
SpeechItem = Span | Turn | tuple[float, float]


def _speaker_pitches(items: Sequence[SpeechItem], pitch: float, pitches: Mapping[str, float]) -> list[float]:
    order: dict[str, int] = {}
    found = []
    for item in items:
        if isinstance(item, Turn):
            index = order.setdefault(item.speaker, len(order))
            found.append(pitches.get(item.speaker, PITCHES[index % len(PITCHES)]))
        else:
            found.append(pitch)
    return found


def _bounds(item: SpeechItem) -> tuple[float, float]:
    if isinstance(item, Turn):
        return item.span.start, item.span.end
    if isinstance(item, Span):
        return item.start, item.end
    return float(item[0]), float(item[1])


_PERIOD = np.linspace(0.0, 1.0, 4097)


def _period(harmonics: int) -> np.ndarray:
    """One period of the voiced sound (harmonic ``k`` at amplitude ``1/k``), looked up by phase."""
    return sum(np.sin(2 * np.pi * k * _PERIOD) / k for k in range(1, harmonics + 1))


def dummy_audio(seconds: float = 6.0, speech: Iterable[SpeechItem] = ((1.5, 4.5),), *, uri: str = "dummy",
                sample_rate: int = SAMPLE_RATE, offset: float = 0.0, seed: int = 0, pitch: float = PITCHES[0],
                pitches: Mapping[str, float] | None = None, harmonics: int = 11, syllable_rate: float = 4.0,
                level: float = 0.3, noise: float = 0.002) -> Audio:
    """Speech-like audio: voiced bursts where ``speech`` says, a faint noise floor elsewhere.

    Args:
        seconds: Length of the waveform.
        speech: Where somebody speaks, in seconds into the audio: ``(start, end)`` pairs or :class:`Span` (at
            ``pitch``), or :class:`Turn` (each speaker at its own pitch, so several speakers sound different;
            overlapping turns mix).
        uri: The audio's uri.
        sample_rate: Samples per second.
        offset: Where the waveform starts in its recording (``speech`` stays relative to the waveform).
        seed: Seed of the noise floor.
        pitch: Fundamental frequency (Hz) of items without a speaker.
        pitches: Speaker → pitch (Hz); other speakers take :data:`PITCHES` in order of first appearance.
        harmonics: Harmonics of the voiced sound (1 gives a pure tone).
        syllable_rate: Loudness peaks per second within a burst (it never falls below half its peak).
        level: Peak amplitude of a burst's fundamental.
        noise: Standard deviation of the noise floor (0 for digital silence between bursts).

    Returns:
        Mono float32 :class:`Audio`, identical for identical arguments.
    """
    items = list(speech)
    total = round(seconds * sample_rate)
    wave = np.random.default_rng(seed).normal(0.0, noise, total) if noise > 0 else np.zeros(total)
    for item, f0 in zip(items, _speaker_pitches(items, pitch, pitches or {}), strict=True):
        start, end = _bounds(item)
        first, last = max(0, round(start * sample_rate)), min(total, round(end * sample_rate))
        if last <= first:
            continue
        t = np.arange(first, last) / sample_rate
        voiced = np.interp((f0 * t) % 1.0, _PERIOD, _period(harmonics))
        envelope = 0.5 + 0.5 * np.sin(np.pi * syllable_rate * t) ** 2
        wave[first:last] += level * voiced * envelope
    return Audio(uri, wave.astype(np.float32), sample_rate, offset=offset)


def dummy_regions(spans: Iterable[tuple[float, float]] = ((1.5, 4.5),), *, uri: str = "dummy",
                  offset: float = 0.0) -> SpeechRegions:
    """:class:`SpeechRegions` at ``spans`` (seconds into the audio) shifted by ``offset``."""
    return SpeechRegions(uri, tuple(Span(start + offset, end + offset) for start, end in spans))


def even_spans(count: int, start: float, end: float, gap: float = 0.2) -> list[tuple[float, float]]:
    """``count`` equal spans from ``start`` to ``end`` with ``gap`` seconds (at most a share of the length)
    between neighbours."""
    if count <= 0:
        return []
    gap = min(gap, (end - start) / (2 * count))
    step = (end - start + gap) / count
    return [(start + i * step, start + i * step + step - gap) for i in range(count)]


def dummy_turns(layout: Iterable[tuple[str, float, float]] | None = None, *, speakers: int = 2,
                seconds: float = 6.0, uri: str = "dummy", offset: float = 0.0) -> SpeakerTurns:
    """Speaker turns: ``layout`` as ``(speaker, start, end)`` in seconds into the audio, or by default
    ``speakers`` speakers (``SPEAKER_00`` …) taking two turns each, in turn, over ``seconds``.

    The turns are marked exclusive when none overlap.
    """
    if layout is None:
        spans = even_spans(2 * speakers, 0.5, max(0.5, seconds - 0.5))
        layout = [(f"SPEAKER_{i % speakers:02d}", start, end) for i, (start, end) in enumerate(spans)]
    turns = sorted(Turn(Span(start + offset, end + offset), speaker) for speaker, start, end in layout)
    exclusive = all(b.span.start >= a.span.end - 1e-6 for a, b in itertools.pairwise(turns))
    return SpeakerTurns(uri, tuple(turns), exclusive=exclusive)


def dummy_diarization(layout: Iterable[tuple[str, float, float]] | None = None, *, speakers: int = 2,
                      seconds: float = 6.0, uri: str = "dummy", offset: float = 0.0) -> Diarization:
    """A :class:`Diarization` of :func:`dummy_turns` (same arguments)."""
    return Diarization(dummy_turns(layout, speakers=speakers, seconds=seconds, uri=uri, offset=offset))


def _units(text: str, unit: WordUnit) -> list[str]:
    if unit == "word":
        return text.split()
    return [c for c in text if not c.isspace() and not unicodedata.category(c).startswith("P")]


def dummy_transcript(texts: Sequence[str] = ("hello world",), *, spans: Sequence[tuple[float, float]] | None = None,
                     seconds: float = 6.0, uri: str = "dummy", offset: float = 0.0, language: str | None = "en",
                     language_raw: str | None = None, words: bool = True, timed: bool = False,
                     unit: WordUnit = "word", speakers: Sequence[str] | None = None) -> Transcript:
    """A transcript of one segment per text.

    Args:
        texts: The segments' texts.
        spans: The segments' spans in seconds into the audio; by default they share the middle half of ``seconds``.
        seconds: Length of the audio (for the default spans).
        uri: The transcript's uri.
        offset: Where the audio starts in its recording.
        language: Every segment's language tag (``None``: no language).
        language_raw: What a model would have said for the language.
        words: Give segments their words (``unit="char"``: one per character, punctuation left out, as for CJK).
        timed: Spread each segment's words evenly over the segment.
        unit: ``"word"`` or ``"char"``.
        speakers: Speakers given to segments (and their words) in turn; ``None`` for no speakers.
    """
    layout = spans if spans is not None else even_spans(len(texts), seconds * 0.25, seconds * 0.75)
    if len(layout) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(layout)} spans")
    segments = []
    for i, (text, (start, end)) in enumerate(zip(texts, layout, strict=True)):
        span = Span(start + offset, end + offset)
        speaker = speakers[i % len(speakers)] if speakers else None
        units = _units(text, unit) if words else []
        step = span.duration / max(1, len(units))
        segment_words = tuple(
            Word(u, Span(span.start + k * step, span.start + (k + 1) * step) if timed else None, speaker, unit=unit)
            for k, u in enumerate(units))
        segments.append(TranscriptSegment(span, text, language, language_raw, speaker=speaker, words=segment_words))
    return Transcript(uri, tuple(segments))


def dummy_document(texts: Sequence[str] = ("hello world", "good morning"), *, uri: str = "dummy",
                   seconds: float = 6.0, language: str | None = "en", unit: WordUnit = "word",
                   speakers: Sequence[str] | None = ("SPEAKER_00", "SPEAKER_01"), speech: bool = True,
                   diarization: bool = True, transcript: bool = True, words: bool = True,
                   timed: bool = True) -> ResultDocument:
    """A :class:`ResultDocument` whose parts agree: one segment per text, each a speech region and a turn.

    Args:
        texts: The segments' texts (``[]``: empty parts, as a pipeline gives for silence).
        uri: The document's uri.
        seconds: Length of the audio; the segments share its middle half.
        language: Every segment's language (``None``: none).
        unit: ``"word"`` or ``"char"`` (CJK) words.
        speakers: Speakers of the segments in turn (``None``: an unattributed transcript, no diarization).
        speech: Include speech regions.
        diarization: Include the diarization (needs ``speakers``).
        transcript: Include the transcript.
        words: Give segments their words.
        timed: Give words spans.
    """
    spans = even_spans(len(texts), seconds * 0.25, seconds * 0.75)
    labels = list(speakers or ())
    layout = [(labels[i % len(labels)], start, end) for i, (start, end) in enumerate(spans)] if labels else []
    return ResultDocument(
        uri=uri,
        audio=AudioInfo(f"/data/{uri}.wav", seconds),
        speech=dummy_regions(spans, uri=uri) if speech else None,
        diarization=dummy_diarization(layout, uri=uri) if diarization and labels else None,
        transcript=dummy_transcript(texts, spans=spans, uri=uri, language=language, words=words, timed=timed,
                                    unit=unit, speakers=speakers) if transcript else None,
    )
