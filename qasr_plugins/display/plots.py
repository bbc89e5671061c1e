"""matplotlib pictures of result documents on one time axis: waveform, speech, speaker turns, words.

Every function returns a ``matplotlib.figure.Figure`` that ``pyplot`` no longer tracks (a notebook shows it once,
when returned) and imports matplotlib only when called.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qasr_plugins.audio import load_audio, to_audio
from qasr_plugins.document import ResultDocument
from qasr_plugins.errors import QasrError
from qasr_plugins.rich import document_speakers, speaker_colours
from qasr_plugins.types import Audio, Span, SpeakerTurns, Word

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

ENVELOPE_COLUMNS = 4000  # min/max pairs a waveform is reduced to before drawing
_ROW_INCHES = {"waveform": 1.3, "speech": 0.5, "turns": 0.8, "exclusive": 0.6, "words": 1.1, "spectrogram": 2.6}


def _window(document: ResultDocument, start: float | None, end: float | None) -> tuple[float, float]:
    first = document.audio.offset if start is None else float(start)
    last = document.audio.offset + document.audio.duration if end is None else float(end)
    if last <= first:
        raise ValueError(f"end ({last}) must be after start ({first})")
    return first, last


def _audio(document: ResultDocument, audio: Any) -> Audio | None:
    """``audio`` as :class:`Audio`; without it, the document's file when it can be read, else ``None``."""
    if audio is not None:
        return to_audio(audio, uri=document.uri)
    path = document.audio.path
    if path is None or not Path(path).is_file():
        return None
    try:
        return load_audio(path, uri=document.uri)
    except QasrError:
        return None


def _figure(rows: Sequence[str], width: float) -> tuple[Figure, list[Axes]]:
    import matplotlib.pyplot as plt  # in a Jupyter kernel, this sets up how figures are shown

    heights = [_ROW_INCHES[r.split(":")[0]] for r in rows]
    figure = plt.figure(figsize=(width, sum(heights) + 1.0), layout="constrained")
    plt.close(figure)  # shown once, when returned, rather than again by pyplot at the end of the cell
    axes = figure.subplots(len(rows), 1, sharex=True, squeeze=False, gridspec_kw={"height_ratios": heights})[:, 0]
    return figure, list(axes)


def draw_waveform(ax: Axes, audio: Audio, start: float, end: float) -> None:
    """The waveform of ``audio`` within ``[start, end]``, as a min/max envelope."""
    part = audio.crop(Span(max(start, audio.offset), max(end, audio.offset)))
    wave = part.waveform
    if len(wave):
        columns = max(1, min(ENVELOPE_COLUMNS, len(wave)))
        edges = np.linspace(0, len(wave), columns + 1).astype(int)
        times = part.offset + edges[:-1] / part.sample_rate
        ax.fill_between(times, np.minimum.reduceat(wave, edges[:-1]), np.maximum.reduceat(wave, edges[:-1]),
                        color="#555555", linewidth=0)
    ax.set_ylabel("waveform")
    ax.set_yticks([])


def draw_speech(ax: Axes, document: ResultDocument) -> None:
    """The speech regions as grey bars."""
    regions = document.speech.regions if document.speech is not None else ()
    ax.broken_barh([(r.start, r.duration) for r in regions], (0.2, 0.6), color="#888888")
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.set_ylabel("speech")


def draw_turns(ax: Axes, turns: SpeakerTurns, colours: Mapping[str, str], label: str) -> None:
    """``turns`` as bars, one lane per speaker (``label`` as the y label, speakers as tick labels)."""
    speakers = turns.speakers
    for lane, speaker in enumerate(speakers):
        spans = [(t.span.start, t.span.duration) for t in turns if t.speaker == speaker]
        ax.broken_barh(spans, (lane + 0.15, 0.7), color=colours[speaker])
    ax.set_ylim(0, max(len(speakers), 1))
    ax.set_yticks([lane + 0.5 for lane in range(len(speakers))], list(speakers))
    ax.invert_yaxis()
    ax.set_ylabel(label)


def draw_exclusive(ax: Axes, turns: SpeakerTurns, colours: Mapping[str, str]) -> None:
    """Exclusive turns on one lane (at most one speaker at a time)."""
    for turn in turns:
        ax.broken_barh([(turn.span.start, turn.span.duration)], (0.2, 0.6), color=colours[turn.speaker])
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.set_ylabel("exclusive")


def timed_words(document: ResultDocument, start: float, end: float) -> list[Word]:
    """The document's timed words that overlap ``[start, end]``."""
    if document.transcript is None:
        return []
    return [w for w in document.transcript.words() if w.span is not None and w.span.end > start and w.span.start < end]


def draw_words(ax: Axes, words: Sequence[Word], colours: Mapping[str, str], label: str = "words") -> None:
    """Each word as a thin bar at its span with its text above, staggered on three heights, coloured by speaker."""
    for index, word in enumerate(words):
        assert word.span is not None
        colour = colours.get(word.speaker or "", "#444444")
        height = 0.15 + 0.28 * (index % 3)
        ax.broken_barh([(word.span.start, word.span.duration)], (height, 0.06), color=colour)
        ax.text(word.span.middle, height + 0.08, word.text, color=colour, fontsize=8, ha="center", va="bottom",
                clip_on=True)
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.set_ylabel(label)


def _legend(figure: Figure, colours: Mapping[str, str]) -> None:
    from matplotlib.patches import Patch

    if colours:
        figure.legend([Patch(color=c) for c in colours.values()], list(colours), loc="outside upper right",
                      ncols=min(len(colours), 6), title="speakers", fontsize=8, title_fontsize=8)


def plot_timeline(document: ResultDocument, start: float | None = None, end: float | None = None,
                  audio: Any = None, *, words: bool = True, width: float = 14.0) -> Figure:
    """One recording on one time axis: waveform, speech regions, regular and exclusive speaker turns, words.

    Rows appear for what the document holds; the waveform when ``audio`` is given or the document's audio file
    can be read. Speakers are in the legend and on the turns' tick labels.

    Args:
        document: A pipeline's result.
        start: From here (s, absolute; default: the document's start).
        end: To here (default: the document's end).
        audio: A path, :class:`~qasr_plugins.types.Audio` or ``(array, rate)``; default: ``document.audio.path``.
        words: Draw the timed words.
        width: Figure width in inches.

    Raises:
        ValueError: When ``end`` is not after ``start``.
    """
    start, end = _window(document, start, end)
    wave = _audio(document, audio)
    diarization = document.diarization
    word_list = timed_words(document, start, end) if words else []
    rows = [name for name, present in (("waveform", wave is not None), ("speech", document.speech is not None),
                                       ("turns", diarization is not None),
                                       ("exclusive", diarization is not None and diarization.exclusive is not None),
                                       ("words", bool(word_list))) if present]
    if not rows:
        rows = ["speech"]
    figure, axes = _figure(rows, width)
    colours = speaker_colours(document_speakers(document))
    for row, ax in zip(rows, axes, strict=True):
        if row == "waveform":
            assert wave is not None
            draw_waveform(ax, wave, start, end)
        elif row == "speech":
            draw_speech(ax, document)
        elif row == "turns":
            assert diarization is not None
            draw_turns(ax, diarization.turns, colours, "turns")
        elif row == "exclusive":
            assert diarization is not None and diarization.exclusive is not None
            draw_exclusive(ax, diarization.exclusive, colours)
        else:
            draw_words(ax, word_list, colours)
    axes[0].set_title(f"{document.uri} ({document.pipeline or 'result'})", loc="left", fontsize=10)
    axes[-1].set_xlim(start, end)
    axes[-1].set_xlabel("time (s)")
    _legend(figure, colours)
    return figure


def plot_comparison(doc_a: ResultDocument, doc_b: ResultDocument, *, labels: Sequence[str] | None = None,
                    start: float | None = None, end: float | None = None, width: float = 14.0) -> Figure:
    """Two results of one recording one above the other: each one's best speaker turns and words.

    Args:
        doc_a: The first run.
        doc_b: The second run.
        labels: A name for each run (default: the documents' pipeline names).
        start: From here (s; default: the first document's start).
        end: To here (default: the first document's end).
        width: Figure width in inches.

    Raises:
        ValueError: When ``end`` is not after ``start``, or ``labels`` does not name two runs.
    """
    start, end = _window(doc_a, start, end)
    names = list(labels) if labels is not None else [d.pipeline or f"run {i + 1}" for i, d in enumerate((doc_a, doc_b))]
    if len(names) != 2:
        raise ValueError(f"labels must name two runs, got {names!r}")
    docs = (doc_a, doc_b)
    rows = [f"{kind}:{i}" for i, doc in enumerate(docs)
            for kind, present in (("turns", doc.diarization is not None), ("words", bool(timed_words(doc, start, end))))
            if present]
    if not rows:
        raise ValueError("neither document has speaker turns or timed words to compare")
    figure, axes = _figure(rows, width)
    colours = speaker_colours(document_speakers(doc_a) | document_speakers(doc_b))
    for row, ax in zip(rows, axes, strict=True):
        kind, index = row.split(":")
        doc, name = docs[int(index)], names[int(index)]
        if kind == "turns":
            assert doc.diarization is not None
            draw_turns(ax, doc.diarization.best, colours, f"{name}\nturns")
        else:
            draw_words(ax, timed_words(doc, start, end), colours, f"{name}\nwords")
    axes[0].set_title(f"{doc_a.uri}: {names[0]} vs {names[1]}", loc="left", fontsize=10)
    axes[-1].set_xlim(start, end)
    axes[-1].set_xlabel("time (s)")
    _legend(figure, colours)
    return figure


def plot_alignment(document: ResultDocument, audio: Any = None, *, start: float | None = None,
                   end: float | None = None, width: float = 14.0) -> Figure:
    """The timed words over a spectrogram of the audio: a line at each word's start, its text on top.

    Args:
        document: A result with timed words.
        audio: A path, :class:`~qasr_plugins.types.Audio` or ``(array, rate)``; default: ``document.audio.path``.
        start: From here (s; default: the document's start).
        end: To here (default: the document's end).
        width: Figure width in inches.

    Raises:
        ValueError: When no audio is given or readable, or ``end`` is not after ``start``.
    """
    start, end = _window(document, start, end)
    wave = _audio(document, audio)
    if wave is None:
        raise ValueError(f"no audio for {document.uri!r}: pass audio= (the document's path is not readable)")
    part = wave.crop(Span(max(start, wave.offset), max(end, wave.offset)))
    figure, (ax,) = _figure(["spectrogram"], width)
    if len(part.waveform) > 400:
        ax.specgram(part.waveform, NFFT=400, Fs=part.sample_rate, noverlap=240, cmap="magma",
                    xextent=(part.offset, part.offset + part.duration))
    colours = speaker_colours(document_speakers(document))
    top = part.sample_rate / 2
    for index, word in enumerate(timed_words(document, start, end)):
        assert word.span is not None
        colour = colours.get(word.speaker or "", "white")
        ax.axvline(word.span.start, color=colour, linewidth=0.8, alpha=0.9)
        ax.axvspan(word.span.start, word.span.end, color=colour, alpha=0.12)
        ax.text(word.span.middle, top * (0.92 - 0.07 * (index % 3)), word.text, color="white", fontsize=8,
                ha="center", va="top", clip_on=True, bbox={"facecolor": colour, "alpha": 0.6, "pad": 1,
                                                           "linewidth": 0})
    ax.set_xlim(start, end)
    ax.set_ylabel("frequency (Hz)")
    ax.set_xlabel("time (s)")
    ax.set_title(f"{document.uri}: words over the spectrogram", loc="left", fontsize=10)
    _legend(figure, colours)
    return figure


__all__ = ["draw_exclusive", "draw_speech", "draw_turns", "draw_waveform", "draw_words", "plot_alignment",
           "plot_comparison", "plot_timeline", "timed_words"]
