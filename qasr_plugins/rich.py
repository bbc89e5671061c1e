"""Readable text and HTML views of transcripts and result documents, for ``repr()`` and Jupyter.

Everything shown is escaped (transcript text never renders as markup). Each speaker keeps one colour, given by
its place among the sorted labels (:func:`speaker_colours`); :mod:`qasr_plugins.display` plots with the same
colours. No third-party import.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qasr_plugins.document import ResultDocument
    from qasr_plugins.types import Transcript, TranscriptSegment, Word

#: matplotlib's ``tab10`` colours, in order.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")
NO_SPEAKER = "#bbbbbb"
TEXT_ROWS = 8  # segments a text repr lists before "… n more"

_STYLE = ("<style>.qasr-table{border-collapse:collapse;font-size:0.9em}.qasr-table td,.qasr-table th"
          "{padding:2px 8px;text-align:left;vertical-align:top}.qasr-swatch{display:inline-block;width:0.8em;"
          "height:0.8em;margin-right:0.3em;border-radius:2px}.qasr-word{margin-right:0.25em}</style>")


@dataclass(frozen=True)
class HtmlView:
    """Something to show: HTML for Jupyter (``_repr_html_``), text for ``repr()``."""

    html: str
    text: str

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.text


def speaker_colours(speakers: Iterable[str | None]) -> dict[str, str]:
    """A colour per speaker label: the ``n``-th label in sorted order takes the ``n``-th palette colour."""
    labels = sorted({s for s in speakers if s is not None})
    return {label: PALETTE[index % len(PALETTE)] for index, label in enumerate(labels)}


def clock(seconds: float) -> str:
    """``75.25`` → ``"1:15.25"``."""
    minutes, rest = divmod(max(seconds, 0.0), 60)
    return f"{int(minutes)}:{rest:05.2f}"


def _speaker_cell(speaker: str | None, colours: Mapping[str, str]) -> str:
    if speaker is None:
        return "<td>–</td>"
    colour = colours.get(speaker, NO_SPEAKER)
    return (f'<td style="color:{colour}"><span class="qasr-swatch" style="background:{colour}"></span>'
            f"{escape(speaker)}</td>")


def _word_html(word: Word, colours: Mapping[str, str]) -> str:
    when = "untimed" if word.span is None else f"{word.span.start:.2f}–{word.span.end:.2f} s"
    title = escape(when + (f", {word.speaker}" if word.speaker else ""))
    colour = colours.get(word.speaker or "", "inherit")
    return f'<span class="qasr-word" style="color:{colour}" title="{title}">{escape(word.text)}</span>'


def _segment_row(segment: TranscriptSegment, colours: Mapping[str, str], words: bool) -> str:
    text = escape(segment.text.strip())
    if words:
        text = "".join(_word_html(w, colours) for w in segment.words) or text
    return (f"<tr><td>{clock(segment.span.start)}–{clock(segment.span.end)}</td>"
            f"{_speaker_cell(segment.speaker, colours)}<td>{escape(segment.language or '–')}</td>"
            f"<td>{text}</td></tr>")


def document_speakers(document: ResultDocument) -> set[str]:
    """Every speaker label in ``document``: of its turns (regular and exclusive), segments and words."""
    found: set[str] = set()
    if document.diarization is not None:
        found |= set(document.diarization.turns.speakers) | set(document.diarization.best.speakers)
    if document.transcript is not None:
        found |= set(transcript_speakers(document.transcript))
    return found


def transcript_speakers(transcript: Transcript) -> set[str]:
    """The speaker labels of ``transcript``'s segments and words."""
    labels = [*(s.speaker for s in transcript.segments), *(w.speaker for w in transcript.words())]
    return {label for label in labels if label is not None}


def transcript_html(transcript: Transcript, *, words: bool = False, colours: Mapping[str, str] | None = None) -> str:
    """An HTML table of ``transcript``: time, speaker (coloured), language and text; with ``words``, each word
    instead, coloured by its own speaker, its time in the tooltip.

    Args:
        transcript: What to show.
        words: One cell of words per segment instead of its text.
        colours: Speaker → colour (default: :func:`speaker_colours` of the transcript's speakers).
    """
    colours = speaker_colours(transcript_speakers(transcript)) if colours is None else colours
    rows = "".join(_segment_row(s, colours, words) for s in transcript.segments)
    return (f'{_STYLE}<table class="qasr-table"><thead><tr><th>time</th><th>speaker</th><th>language</th>'
            f"<th>{'words' if words else 'text'}</th></tr></thead><tbody>{rows}</tbody></table>")


def _turns_html(document: ResultDocument) -> str:
    """A table of the best speaker turns, or of the speech regions, for a document without a transcript."""
    if document.diarization is not None:
        turns = document.diarization.best
        colours = speaker_colours(document_speakers(document))
        rows = "".join(f"<tr><td>{clock(t.span.start)}–{clock(t.span.end)}</td>{_speaker_cell(t.speaker, colours)}"
                       "</tr>" for t in turns)
        return (f'{_STYLE}<table class="qasr-table"><thead><tr><th>time</th><th>speaker</th></tr></thead>'
                f"<tbody>{rows}</tbody></table>")
    regions = document.speech.regions if document.speech is not None else ()
    rows = "".join(f"<tr><td>{clock(r.start)}–{clock(r.end)}</td><td>speech</td></tr>" for r in regions)
    return f'{_STYLE}<table class="qasr-table"><tbody>{rows}</tbody></table>'


def summary(document: ResultDocument) -> str:
    """One line: the uri, the duration and what each part holds."""
    parts = [f"{document.audio.duration:.1f} s"]
    if document.speech is not None:
        parts.append(f"{len(document.speech)} speech regions")
    if document.diarization is not None:
        parts.append(f"{len(document.diarization.turns)} turns of {len(document.diarization.turns.speakers)} "
                     f"speakers ({', '.join(document.diarization.turns.speakers)})")
    if document.transcript is not None:
        transcript = document.transcript
        parts.append(f"{len(transcript.segments)} segments, {sum(1 for _ in transcript.words())} words"
                     + (f" ({', '.join(transcript.languages)})" if transcript.languages else ""))
    return f"{document.uri}: " + ", ".join(parts)


def document_html(document: ResultDocument, *, words: bool = False) -> str:
    """The document's :func:`summary`, per-stage timings and its transcript table (turns or speech regions when it
    has no transcript)."""
    timings = ", ".join(f"{escape(node)} {seconds:.2f} s" for node, seconds in document.timings.items())
    head = f"<p><b>{escape(summary(document))}</b>" + (f"<br>stages: {timings}" if timings else "") + "</p>"
    colours = speaker_colours(document_speakers(document))
    body = (_turns_html(document) if document.transcript is None
            else transcript_html(document.transcript, words=words, colours=colours))
    return head + body


def transcript_text(transcript: Transcript, rows: int = TEXT_ROWS) -> str:
    """The first ``rows`` segments as ``[start–end] speaker (language): text`` lines."""
    lines = [f"  [{clock(s.span.start)}–{clock(s.span.end)}] {s.speaker or '-'} ({s.language or '-'}): "
             f"{s.text.strip()}" for s in transcript.segments[:rows]]
    if len(transcript.segments) > rows:
        lines.append(f"  … {len(transcript.segments) - rows} more segments")
    return "\n".join(lines)


def transcript_repr(transcript: Transcript) -> str:
    """``Transcript(uri, n segments)`` and its first segments."""
    return "\n".join([f"Transcript({transcript.uri!r}, {len(transcript.segments)} segments)",
                      transcript_text(transcript)]).rstrip()


def document_repr(document: ResultDocument) -> str:
    """``ResultDocument(summary)`` and the transcript's first segments."""
    lines = [f"ResultDocument({summary(document)})"]
    if document.transcript is not None:
        lines.append(transcript_text(document.transcript))
    return "\n".join(lines).rstrip()


__all__ = ["PALETTE", "HtmlView", "clock", "document_html", "document_repr", "document_speakers", "speaker_colours",
           "summary", "transcript_html", "transcript_repr", "transcript_speakers", "transcript_text"]
