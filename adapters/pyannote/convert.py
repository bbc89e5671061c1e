"""pyannote bridges: our types ↔ ``pyannote.core`` (``Segment``, ``Timeline``, ``Annotation``) and RTTM.

Imported on demand (``from qasr_plugins.adapters.pyannote import to_annotation``); needs the ``pyannote`` extra.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qasr_plugins.types import Diarization, Span, SpeakerEmbeddings, SpeakerTurns, SpeechRegions, Turn


def to_segment(span: Span) -> Any:
    from pyannote.core import Segment

    return Segment(span.start, span.end)


def to_timeline(regions: SpeechRegions) -> Any:
    """:class:`SpeechRegions` → ``pyannote.core.Timeline``."""
    from pyannote.core import Timeline

    return Timeline([to_segment(r) for r in regions], uri=regions.uri)


def from_timeline(timeline: Any, uri: str | None = None) -> SpeechRegions:
    """``pyannote.core.Timeline`` (or the timeline of an ``Annotation``) → :class:`SpeechRegions`."""
    support = timeline.support()
    return SpeechRegions(uri or timeline.uri or "unknown", tuple(Span(s.start, s.end) for s in support))


def to_annotation(turns: SpeakerTurns) -> Any:
    """:class:`SpeakerTurns` → ``pyannote.core.Annotation`` (one track per turn, labels = speakers)."""
    from pyannote.core import Annotation

    annotation = Annotation(uri=turns.uri)
    for index, turn in enumerate(turns):
        annotation[to_segment(turn.span), index] = turn.speaker
    return annotation


def from_annotation(annotation: Any, uri: str | None = None, *, exclusive: bool = False) -> SpeakerTurns:
    """``pyannote.core.Annotation`` → :class:`SpeakerTurns` (labels become speaker names)."""
    turns = tuple(Turn(Span(max(0.0, segment.start), segment.end), str(label))
                  for segment, _, label in annotation.itertracks(yield_label=True) if segment.end > segment.start)
    return SpeakerTurns(uri or annotation.uri or "unknown", turns, exclusive=exclusive)


def from_diarize_output(output: Any, uri: str, space: str | None = None) -> Diarization:
    """A pyannote pipeline's result → :class:`Diarization`.

    pyannote.audio 4 returns ``DiarizeOutput(speaker_diarization, exclusive_speaker_diarization,
    speaker_embeddings)``; older or third-party pipelines return a bare ``Annotation`` (then there are no exclusive
    turns). With ``space`` (the name of the pipeline's embedding model), the speakers' embeddings are kept — one row
    per label of ``speaker_diarization`` in its order; rows pyannote filled with zeros (speakers its clustering
    gave no centroid) or with non-finite values are left out.
    """
    regular = getattr(output, "speaker_diarization", output)
    exclusive = getattr(output, "exclusive_speaker_diarization", None)
    turns = from_annotation(regular, uri)
    embeddings = None
    rows = getattr(output, "speaker_embeddings", None)
    if space is not None and rows is not None:
        rows = np.asarray(rows, dtype=np.float64)
        labels = [str(label) for label in regular.labels()]
        if rows.ndim == 2 and len(rows) == len(labels):
            kept = {label: row for label, row in zip(labels, rows, strict=True)
                    if np.all(np.isfinite(row)) and np.any(row)}
            embeddings = SpeakerEmbeddings.of(space, kept) if kept else None
    return Diarization(turns, None if exclusive is None else from_annotation(exclusive, uri, exclusive=True),
                       embeddings)


def to_diarize_output(diarization: Diarization) -> Any:
    """:class:`Diarization` → pyannote.audio 4's ``DiarizeOutput``, with ``speaker_embeddings`` (one row per label
    of the regular turns, in their order) when the diarization carries them for every speaker."""
    from pyannote.audio.pipelines.speaker_diarization import DiarizeOutput

    regular = to_annotation(diarization.turns)
    vectors = {} if diarization.embeddings is None else diarization.embeddings.as_dict()
    labels = regular.labels()
    complete = bool(labels) and all(label in vectors for label in labels)
    rows = np.array([vectors[label] for label in labels]) if complete else None
    return DiarizeOutput(regular, to_annotation(diarization.best), rows)
