"""A :class:`~qasr_plugins.document.ResultDocument` as OpenAI's transcription responses and stream events.

Field names and shapes follow the ``openai`` package's types (``Transcription``, ``TranscriptionVerbose``,
``TranscriptionDiarized``, ``TranscriptionText*Event``). Speakers are labelled ``A``, ``B`` … in order of first
appearance, as OpenAI's diarizing model labels speakers it was not told about; speakers a request enrolled
(``known_speaker_names[]``) keep their names.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from string import ascii_uppercase
from typing import Any

from qasr_plugins.document import ResultDocument
from qasr_plugins.errors import QasrError
from qasr_plugins.languages import language_name
from qasr_plugins.types import Transcript, TranscriptSegment

UNKNOWN_SPEAKER = "unknown"
"""The label of a segment no speaker was attributed to (e.g. speech outside every diarization turn)."""


def _transcript(document: ResultDocument) -> Transcript:
    return document.transcript or Transcript(document.uri)


def _usage(document: ResultDocument) -> dict[str, Any]:
    return {"type": "duration", "seconds": round(document.audio.duration, 3)}


def _segment_speaker(segment: TranscriptSegment) -> str | None:
    if segment.speaker:
        return segment.speaker
    counts: dict[str, float] = {}
    for word in segment.words:
        if word.speaker:
            counts[word.speaker] = counts.get(word.speaker, 0.0) + (word.span.duration if word.span else 1.0)
    return max(counts, key=lambda s: counts[s]) if counts else None


def enrolled_names(document: ResultDocument) -> frozenset[str]:
    """The names the document's identification nodes were given (``known_speakers``' references)."""
    return frozenset(str(name) for record in document.provenance if record.kind == "identification"
                     for name in (record.settings.get("references") or {}))


def speaker_labels(transcript: Transcript, names: frozenset[str] = frozenset()) -> dict[str, str]:
    """Each pipeline speaker's label: an enrolled speaker's name as it is (``names``), the others ``A``, ``B`` …
    by first appearance (``A1`` … after ``Z``), skipping any letter that is an enrolled name."""
    labels: dict[str, str] = {}
    letters = (ascii_uppercase[n % 26] + (str(n // 26) if n >= 26 else "") for n in itertools.count())
    for segment in transcript.segments:
        speaker = _segment_speaker(segment)
        if speaker and speaker not in labels:
            labels[speaker] = speaker if speaker in names else next(x for x in letters if x not in names)
    return labels


def _language(document: ResultDocument) -> str:
    """The recording's main language as OpenAI names it (lower-case English name), else its BCP-47 tag."""
    transcript = _transcript(document)
    spoken: dict[str, float] = {}
    for segment in transcript.segments:
        if segment.language:
            spoken[segment.language] = spoken.get(segment.language, 0.0) + segment.span.duration
    if not spoken:
        return ""
    tag = max(spoken, key=lambda t: spoken[t])
    try:
        return language_name(tag).lower()
    except QasrError:
        return tag


def logprobs(document: ResultDocument) -> list[dict[str, Any]] | None:
    """``Transcription.logprobs``: every segment's decoded tokens in order, or ``None`` when the transcript has text
    but no segment carries its tokens' log-probabilities (the ASR stage does not record them)."""
    segments = _transcript(document).segments
    if any(s.text.strip() for s in segments) and not any(s.tokens for s in segments):
        return None
    return [token.to_dict() for segment in segments for token in segment.tokens]


def as_json(document: ResultDocument, with_logprobs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """``Transcription``: the text and the audio duration as usage (and ``logprobs`` when given)."""
    body: dict[str, Any] = {"text": _transcript(document).text, "usage": _usage(document)}
    if with_logprobs is not None:
        body["logprobs"] = with_logprobs
    return body


def as_verbose_json(document: ResultDocument, granularities: frozenset[str]) -> dict[str, Any]:
    """``TranscriptionVerbose``: segments unless only ``word`` was asked for, words when ``word`` was.

    Segment fields qasr does not compute (``tokens``, ``avg_logprob``, ``compression_ratio``, ``no_speech_prob``)
    carry neutral values: ``[]`` and ``0.0``; ``temperature`` is the 0 every request decodes with.
    """
    transcript = _transcript(document)
    body: dict[str, Any] = {"task": "transcribe", "language": _language(document),
                            "duration": round(document.audio.duration, 3), "text": transcript.text}
    if "segment" in granularities or not granularities:
        body["segments"] = [{"id": i, "seek": 0, "start": s.span.start, "end": s.span.end, "text": s.text,
                             "tokens": [], "temperature": 0.0, "avg_logprob": 0.0, "compression_ratio": 0.0,
                             "no_speech_prob": 0.0}
                            for i, s in enumerate(transcript.segments)]
    if "word" in granularities:
        body["words"] = [{"word": w.text, "start": w.span.start, "end": w.span.end}
                         for w in transcript.words() if w.span is not None]
    body["usage"] = _usage(document)
    return body


def diarized_segments(document: ResultDocument) -> list[dict[str, Any]]:
    """``TranscriptionDiarizedSegment`` s: the non-empty segments with their speaker's label."""
    transcript = _transcript(document)
    labels = speaker_labels(transcript, enrolled_names(document))
    found = []
    for segment in transcript.segments:
        if not segment.text.strip():
            continue
        speaker = _segment_speaker(segment)
        found.append({"type": "transcript.text.segment", "id": f"seg_{len(found)}", "start": segment.span.start,
                      "end": segment.span.end, "text": segment.text.strip(),
                      "speaker": labels.get(speaker, UNKNOWN_SPEAKER) if speaker else UNKNOWN_SPEAKER})
    return found


def as_diarized_json(document: ResultDocument) -> dict[str, Any]:
    """``TranscriptionDiarized``."""
    return {"task": "transcribe", "duration": round(document.audio.duration, 3), "text": _transcript(document).text,
            "segments": diarized_segments(document), "usage": _usage(document)}


def stream_events(document: ResultDocument, response_format: str, sent: str = "") -> Iterator[dict[str, Any]]:
    """The server-sent events of a streamed response once the document is done, after the deltas already ``sent``
    while the pipeline ran: per non-empty segment a ``transcript.text.delta`` of what is not sent yet (and, for
    ``diarized_json``, a ``transcript.text.segment``), then ``transcript.text.done``.

    The deltas, with ``sent``, join to the done event's text (when ``sent`` is a prefix of it, as the transcript so
    far is).
    """
    transcript = _transcript(document)
    text = transcript.text
    emitted = len(sent) if text.startswith(sent) else 0
    if response_format == "diarized_json":
        for segment in diarized_segments(document):
            piece = segment["text"]
            start = text.find(piece, emitted)
            end = start + len(piece) if start >= 0 else emitted
            if end > emitted:
                yield {"type": "transcript.text.delta", "delta": text[emitted:end], "segment_id": segment["id"]}
                emitted = end
            yield segment
    else:
        for segment in transcript.segments:
            piece = segment.text.strip()
            start = text.find(piece, emitted) if piece else -1
            if start < 0:
                continue
            yield {"type": "transcript.text.delta", "delta": text[emitted:start + len(piece)]}
            emitted = start + len(piece)
    if emitted < len(text):
        yield {"type": "transcript.text.delta", "delta": text[emitted:]}
    yield {"type": "transcript.text.done", "text": text}


def partial_delta(partial: Any, sent: str) -> str:
    """What a partial transcript adds to the text ``sent`` so far ("" when it adds nothing or is not a
    continuation of it)."""
    if not isinstance(partial, Transcript):
        return ""
    text = partial.text
    return text[len(sent):] if len(text) > len(sent) and text.startswith(sent) else ""
