"""The flow every ASR backend shares: plan pieces, batch them across files, call the backend, place the results.

:func:`transcribe_inputs` turns a batch of :class:`~qasr_plugins.stage.AsrInput` into one transcript per input, in
order: each input's pieces are planned (:func:`~qasr_plugins.asr.pieces.plan_pieces`), a backend that identifies
languages per recording is asked once per input, the pieces of all inputs are sorted longest first and batched
within the backend's limits, and each result is placed once: spans shifted from the piece to the recording and
clamped to the piece, the turn's speaker on the segment and its words. While it runs, each input's transcript of
the pieces decoded so far, up to the first one still waiting, is reported as a partial output
(:mod:`qasr_plugins.partials`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from qasr_plugins.asr.backend import AsrBackend, AsrLimits, IdentifiesRecordings, Language, Piece, PieceResult
from qasr_plugins.asr.pieces import plan_pieces
from qasr_plugins.partials import report_partial, reporting
from qasr_plugins.stage import AsrInput
from qasr_plugins.types import Span, Transcript, TranscriptSegment


def transcribe_inputs(backend: AsrBackend, batch: Sequence[AsrInput]) -> list[Transcript]:
    """One transcript per input of ``batch``, in order, with spans absolute in each recording."""
    limits = backend.limits
    plans = [plan_pieces(index, item, limits) for index, item in enumerate(batch)]
    if isinstance(backend, IdentifiesRecordings):
        plans = [_in_language(plan, backend.identify(plan)) if plan else plan for plan in plans]
    placed: list[list[list[TranscriptSegment] | None]] = [[None] * len(plan) for plan in plans]
    position = {id(piece): k for plan in plans for k, piece in enumerate(plan)}
    finished = [0] * len(batch)  # per input, how many of its first pieces (in time order) are placed
    for group in batches([piece for plan in plans for piece in plan], limits):
        for piece, result in zip(group, backend.transcribe(group), strict=True):
            placed[piece.item][position[id(piece)]] = place(piece, result)
        for item in sorted({piece.item for piece in group}) if reporting() else ():
            done = next((k for k, found in enumerate(placed[item]) if found is None), len(placed[item]))
            if done > finished[item]:
                finished[item] = done
                report_partial(item, _transcript(batch[item], placed[item][:done]))
    return [_transcript(item, found) for item, found in zip(batch, placed, strict=True)]


def _transcript(item: AsrInput, placed: Sequence[list[TranscriptSegment] | None]) -> Transcript:
    return Transcript(item.audio.uri, tuple(segment for found in placed for segment in found or ()))


def batches(pieces: Sequence[Piece], limits: AsrLimits) -> list[list[Piece]]:
    """Longest first (ties in order), at most ``limits.batch_size`` pieces and ``limits.batch_seconds`` of audio per
    batch (a longer piece is a batch of its own)."""
    groups: list[list[Piece]] = []
    seconds = 0.0
    for piece in sorted(pieces, key=lambda p: -p.seconds):
        if not groups or len(groups[-1]) >= limits.batch_size or seconds + piece.seconds > limits.batch_seconds:
            groups.append([piece])
            seconds = piece.seconds
        else:
            groups[-1].append(piece)
            seconds += piece.seconds
    return groups


def place(piece: Piece, result: PieceResult) -> list[TranscriptSegment]:
    """The piece's segments in the recording: spans shifted by the piece's start once and clamped to the piece;
    segments and words take the piece's speaker and the result's language."""
    low, high = piece.span.start, piece.span.end

    def absolute(span: Span) -> Span:
        return Span(low + span.start, low + span.end).clamped(low, high)

    language = result.language
    segments = []
    for heard in result.segments:
        words = tuple(replace(w, span=None if w.span is None else absolute(w.span), speaker=piece.speaker)
                      for w in heard.words)
        segments.append(TranscriptSegment(piece.span if heard.span is None else absolute(heard.span), heard.text,
                                          language.tag, language.raw, language.confidence, piece.speaker, words,
                                          heard.flags, heard.tokens))
    return segments


def _in_language(plan: list[Piece], language: Language | None) -> list[Piece]:
    return plan if language is None else [replace(piece, language=language) for piece in plan]
