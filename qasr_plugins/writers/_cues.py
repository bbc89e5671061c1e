"""Subtitle cues from a transcript: shared by the SRT and VTT writers.

Tokens are the words with their punctuation (see :mod:`qasr_plugins.text`); a segment without timed words is
split into tokens whose times are spread over the segment in proportion to their length. Tokens are packed greedily
into cues that never mix speakers or segments and respect the line, length and duration limits; a cue also ends
after sentence-final punctuation or before a pause, when those options are on. Line length is measured in display
cells, as a terminal or a subtitle renderer lays text out: full-width characters (CJK ideographs, kana, Hangul,
full-width punctuation) take two, combining marks none.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from pydantic import Field

from qasr_plugins.stage import StageConfig
from qasr_plugins.text import segment_pieces
from qasr_plugins.types import Span, Transcript, TranscriptSegment

SENTENCE_END = tuple(".?!…。？！")
_CJK = "\u3040-\u30FF\u3400-\u4DBF\u4E00-\u9FFF\uF900-\uFAFF"
_TOKEN = re.compile(rf"[{_CJK}][^\s\w]*|[^\s{_CJK}]+")  # one CJK character (with its punctuation), or a word


class CueConfig(StageConfig):
    """Layout of subtitle cues (SRT and VTT)."""

    max_chars_per_line: int = Field(42, ge=1, description="Line width in display cells (a full-width character "
                                    "counts two: 42 cells hold 21 CJK characters).")
    max_lines: int = Field(2, ge=1)
    max_duration: float = Field(7.0, gt=0, le=60)
    split_on_punctuation: bool = True
    pause: float | None = Field(0.6, ge=0, le=60, description="Start a new cue at a silence this long (None: never).")
    speaker_labels: bool = True


@dataclass(frozen=True)
class Token:
    text: str
    span: Span
    speaker: str | None
    gap: bool  # followed by a space


@dataclass(frozen=True)
class Cue:
    span: Span
    speaker: str | None
    rows: tuple[tuple[Token, ...], ...]

    @property
    def lines(self) -> tuple[str, ...]:
        return tuple(line_text(row) for row in self.rows)


def _untimed_tokens(segment: TranscriptSegment) -> list[Token]:
    matches = list(_TOKEN.finditer(segment.text))
    total = sum(len(m.group()) for m in matches) or 1
    tokens: list[Token] = []
    clock = segment.span.start
    for i, match in enumerate(matches):
        step = segment.span.duration * len(match.group()) / total
        following = matches[i + 1].start() if i + 1 < len(matches) else len(segment.text)
        gap = segment.text[match.end():following] != ""
        tokens.append(Token(match.group(), Span(clock, min(clock + step, segment.span.end)), segment.speaker, gap))
        clock += step
    return tokens


def segment_tokens(segment: TranscriptSegment) -> list[Token]:
    """The tokens of one segment, timed by its words when every word is timed."""
    if not segment.words or any(w.span is None for w in segment.words):
        return _untimed_tokens(segment)
    return [Token(piece.text, word.span, word.speaker or segment.speaker, bool(piece.gap))  # type: ignore[arg-type]
            for word, piece in zip(segment.words, segment_pieces(segment), strict=True) if piece.text]


def line_text(tokens: Sequence[Token], show: Callable[[Token], str] = lambda t: t.text) -> str:
    """One line's text: tokens joined by a space where the transcript has one."""
    return "".join(show(t) + (" " if t.gap and i < len(tokens) - 1 else "") for i, t in enumerate(tokens))


def display_width(text: str) -> int:
    """Display cells ``text`` takes: two per wide or full-width character, none per combining mark, else one."""
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def wrap(tokens: Sequence[Token], width: int) -> list[tuple[Token, ...]]:
    """Greedy line filling to ``width`` display cells; a token wider than that gets a line of its own."""
    rows: list[tuple[Token, ...]] = []
    current: tuple[Token, ...] = ()
    for token in tokens:
        if current and display_width(line_text((*current, token))) > width:
            rows.append(current)
            current = (token,)
        else:
            current = (*current, token)
    if current:
        rows.append(current)
    return rows


def build_cues(transcript: Transcript, config: CueConfig) -> list[Cue]:
    """Every segment's cues, ordered by start time (as WebVTT requires even when segments overlap)."""
    return sorted(_segment_cues(transcript, config), key=lambda cue: cue.span.start)


def _segment_cues(transcript: Transcript, config: CueConfig) -> Iterator[Cue]:
    """Pack each segment's tokens into cues (see the module docstring)."""
    for segment in transcript.segments:
        cue: list[Token] = []
        for token in segment_tokens(segment):
            if cue and _must_break(cue, token, config):
                yield _cue(cue, config)
                cue = []
            cue.append(token)
            if config.split_on_punctuation and token.text.endswith(SENTENCE_END):
                yield _cue(cue, config)
                cue = []
        if cue:
            yield _cue(cue, config)


def _must_break(cue: list[Token], token: Token, config: CueConfig) -> bool:
    return (token.speaker != cue[0].speaker
            or (config.pause is not None and token.span.start - cue[-1].span.end >= config.pause)
            or token.span.end - cue[0].span.start > config.max_duration
            or len(wrap([*cue, token], config.max_chars_per_line)) > config.max_lines)


def _cue(tokens: list[Token], config: CueConfig) -> Cue:
    start = tokens[0].span.start
    end = max(start + 0.001, max(t.span.end for t in tokens))
    return Cue(Span(start, end), tokens[0].speaker, tuple(wrap(tokens, config.max_chars_per_line)))
