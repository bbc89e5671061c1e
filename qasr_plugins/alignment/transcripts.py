"""Read the text to align: plain text, a qasr JSON result/transcript, or SubRip (SRT) subtitles."""

from __future__ import annotations

import json
import re
from pathlib import Path

from qasr_plugins.errors import InputError
from qasr_plugins.types import Span, Transcript, TranscriptSegment

_SRT_TIME = re.compile(r"(\d+):(\d{2}):(\d{2})[,.](\d{3})\s*-->\s*(\d+):(\d{2}):(\d{2})[,.](\d{3})")


def read_transcript(source: str, *, uri: str, duration: float, language: str | None = None) -> Transcript:
    """The transcript in ``source``: a ``.json``/``.srt``/text file, or the text itself when no such file exists.

    Plain text becomes one segment over the whole recording. ``language`` fills segments that have none.

    Raises:
        InputError: ``I310`` when the file cannot be read or parsed.
    """
    path = Path(source)
    if not path.is_file():
        return _plain(source, uri, duration, language)
    try:
        content = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the text ({exc})", where=source, code="I310",
                         hint="Give a UTF-8 text, SRT or qasr JSON file, or the text itself.") from exc
    suffix = path.suffix.lower()
    if suffix == ".json":
        transcript = _json(content, source, uri)
    elif suffix == ".srt":
        transcript = _srt(content, source, uri, duration)
    else:
        return _plain(content, uri, duration, language)
    segments = tuple(s if s.language or not language else _with_language(s, language) for s in transcript.segments)
    return Transcript(uri, segments)


def _with_language(segment: TranscriptSegment, language: str) -> TranscriptSegment:
    from dataclasses import replace

    return replace(segment, language=language)


def _plain(text: str, uri: str, duration: float, language: str | None) -> Transcript:
    text = " ".join(text.split())
    return Transcript(uri, (TranscriptSegment(Span(0.0, duration), text, language),) if text else ())


def _json(content: str, source: str, uri: str) -> Transcript:
    try:
        data = json.loads(content)
        if "transcript" in data:  # a qasr result document
            data = data["transcript"]
            if data is None:
                raise ValueError("the result has no transcript")
        return Transcript(uri, Transcript.from_dict(data).segments)
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"not a qasr result or transcript JSON ({type(exc).__name__}: {exc})", where=source,
                         code="I310", hint="Use the JSON that 'qasr run' writes, or plain text.") from exc


def _srt(content: str, source: str, uri: str, duration: float) -> Transcript:
    segments = []
    for block in re.split(r"\n\s*\n", content.strip()):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        timing = next((i for i, line in enumerate(lines) if _SRT_TIME.search(line)), None)
        if timing is None:
            continue
        parts = [int(x) for x in _SRT_TIME.search(lines[timing]).groups()]  # type: ignore[union-attr]
        start = parts[0] * 3600 + parts[1] * 60 + parts[2] + parts[3] / 1000
        end = parts[4] * 3600 + parts[5] * 60 + parts[6] + parts[7] / 1000
        text = re.sub(r"<[^>]+>", "", " ".join(lines[timing + 1:]))
        if end >= start and text:
            segments.append(TranscriptSegment(Span(min(start, duration), min(end, duration)), text))
    if not segments:
        raise InputError("no subtitle cues found", where=source, code="I310",
                         hint="Each cue needs a 'HH:MM:SS,mmm --> HH:MM:SS,mmm' line followed by text.")
    return Transcript(uri, tuple(segments))
