"""Read references and hypotheses into :class:`EvalFile` records, one per uri.

Formats, chosen by file name:

* ``.rttm`` — speaker turns (pyannote's loader; one file may hold many uris);
* ``.stm`` — speaker-attributed segment transcripts (``uri channel speaker start end [<labels>] text``);
* ``.ctm`` — timed words (``uri channel start duration word [conf [type [speaker]]]``);
* ``.TextGrid`` — timed words from tiers named ``"<speaker> - words"`` (the ``textgrid`` writer's layout), else
  from tiers whose name contains ``word``, else from the first interval tier; uri = file stem;
* ``.json`` — a qasr result document: its diarization turns and its transcript's words (or segment text);
* ``.txt`` — plain text (words only); uri = file stem.

A directory is searched (not recursively) for these suffixes; JSON files there that are not qasr result
documents (e.g. ``*.whisperx.json``, the run summary) are skipped. When several files describe one uri, each part
comes from the most specific format: turns from RTTM before JSON; words from JSON, then CTM, TextGrid, STM, plain
text. Two files of the same format giving the same part for one uri are an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from qasr_plugins.errors import InputError, QasrError
from qasr_plugins.types import Span, Turn

SUFFIXES = (".rttm", ".stm", ".ctm", ".textgrid", ".json", ".txt")


@dataclass(frozen=True)
class EvalWord:
    """One word of a reference or hypothesis; time and speaker when the format has them."""

    text: str
    start: float | None = None
    end: float | None = None
    speaker: str | None = None


@dataclass(frozen=True)
class EvalFile:
    """What one side says about one recording: speaker turns and/or words (``None`` when not given)."""

    uri: str
    sources: tuple[str, ...]
    turns: tuple[Turn, ...] | None = None
    words: tuple[EvalWord, ...] | None = None


def _bad(path: Path, what: str, hint: str = "") -> InputError:
    return InputError(what, where=str(path), code="I310", hint=hint)


def read_rttm(path: Path) -> Iterator[EvalFile]:
    from pyannote.database.util import load_rttm

    try:
        annotations = load_rttm(str(path))
    except Exception as exc:
        raise _bad(path, f"is not a valid RTTM file ({type(exc).__name__}: {exc}).",
                   "Expected lines 'SPEAKER <uri> <channel> <start> <duration> <NA> <NA> <speaker> <NA> <NA>'.") from exc
    for uri, annotation in annotations.items():
        turns = tuple(Turn(Span(s.start, s.end), str(label)) for s, _, label in annotation.itertracks(yield_label=True))
        yield EvalFile(str(uri), (str(path),), turns=turns)


def _lines(path: Path) -> Iterator[tuple[int, list[str]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _bad(path, f"cannot be read ({exc}).") from exc
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() and not line.lstrip().startswith(";;"):
            yield number, line.split()


def read_stm(path: Path) -> Iterator[EvalFile]:
    by_uri: dict[str, list[tuple[float, EvalWord]]] = {}
    for number, fields in _lines(path):
        if len(fields) < 5:
            raise _bad(path, f"line {number}: an STM line needs 'uri channel speaker start end [text]'.")
        uri, _, speaker, start, end, *rest = fields
        if rest and rest[0].startswith("<") and rest[0].endswith(">"):
            rest = rest[1:]
        if speaker.lower() in ("inter_segment_gap", "excluded_region") or rest == ["ignore_time_segment_in_scoring"]:
            by_uri.setdefault(uri, [])
            continue
        try:
            begin = float(start)
            float(end)
        except ValueError as exc:
            raise _bad(path, f"line {number}: start/end are not numbers ({start!r}, {end!r}).") from exc
        by_uri.setdefault(uri, []).extend((begin, EvalWord(token, speaker=speaker)) for token in rest)
    for uri, items in by_uri.items():
        yield EvalFile(uri, (str(path),), words=tuple(w for _, w in sorted(items, key=lambda item: item[0])))


def read_ctm(path: Path) -> Iterator[EvalFile]:
    by_uri: dict[str, list[EvalWord]] = {}
    for number, fields in _lines(path):
        if len(fields) < 5:
            raise _bad(path, f"line {number}: a CTM line needs 'uri channel start duration word'.")
        try:
            start, duration = float(fields[2]), float(fields[3])
        except ValueError as exc:
            raise _bad(path, f"line {number}: start/duration are not numbers.") from exc
        speaker = fields[7] if len(fields) > 7 and fields[7] not in ("NA", "unknown", "null") else None
        by_uri.setdefault(fields[0], []).append(EvalWord(fields[4].replace("<space>", " "), start, start + duration,
                                                         speaker))
    for uri, words in by_uri.items():
        yield EvalFile(uri, (str(path),), words=tuple(sorted(words, key=lambda w: (w.start or 0.0))))


def read_textgrid(path: Path) -> Iterator[EvalFile]:
    from praatio import textgrid

    try:
        grid = textgrid.openTextgrid(str(path), includeEmptyIntervals=False)
    except Exception as exc:
        raise _bad(path, f"is not a readable TextGrid ({type(exc).__name__}: {exc}).") from exc
    tiers = [grid.getTier(name) for name in grid.tierNames if grid.getTier(name).tierType == "IntervalTier"]
    per_speaker = [t for t in tiers if t.name.endswith(" - words")]
    chosen = per_speaker or [t for t in tiers if "word" in t.name.lower()] or tiers[:1]
    if not chosen:
        raise _bad(path, "has no interval tier with words.", "Name the words tier '<speaker> - words' or 'words'.")
    words = [EvalWord(e.label, e.start, e.end, t.name[: -len(" - words")] if per_speaker else None)
             for t in chosen for e in t.entries if e.label.strip()]
    yield EvalFile(path.stem, (str(path),), words=tuple(sorted(words, key=lambda w: (w.start, w.end))))


def read_json(path: Path) -> Iterator[EvalFile]:
    from qasr_plugins.document import ResultDocument

    document = ResultDocument.load(path)
    turns = None if document.diarization is None else tuple(document.diarization.turns)
    words: tuple[EvalWord, ...] | None = None
    if document.transcript is not None:
        collected: list[EvalWord] = []
        for segment in document.transcript.segments:
            if segment.words:
                collected.extend(EvalWord(w.text, w.span.start if w.span else None, w.span.end if w.span else None,
                                          w.speaker or segment.speaker) for w in segment.words)
            else:
                collected.extend(EvalWord(token, speaker=segment.speaker) for token in segment.text.split())
        words = tuple(collected)
    yield EvalFile(document.uri, (str(path),), turns=turns, words=words)


def read_txt(path: Path) -> Iterator[EvalFile]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _bad(path, f"cannot be read ({exc}).") from exc
    yield EvalFile(path.stem, (str(path),), words=tuple(EvalWord(t) for t in text.split()))


READERS = {".rttm": read_rttm, ".stm": read_stm, ".ctm": read_ctm, ".textgrid": read_textgrid,
           ".json": read_json, ".txt": read_txt}


def _expand(paths: Iterable[str | Path]) -> Iterator[tuple[Path, bool]]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from ((p, False) for p in sorted(path.iterdir()) if p.suffix.lower() in SUFFIXES and p.is_file())
        elif path.is_file():
            yield path, True
        else:
            raise InputError("does not exist.", where=str(path), code="I301",
                             hint="Give reference/hypothesis files or directories.")


def read_all(paths: Iterable[str | Path]) -> dict[str, EvalFile]:
    """Every record in ``paths`` (files or directories), merged by uri.

    Raises:
        InputError: ``I310`` for an unreadable or malformed file (naming it), ``I311`` for two files giving the
        same part for one uri, ``I312`` for an unknown suffix given explicitly.
    """
    found: dict[str, EvalFile] = {}
    for path, explicit in _expand(paths):
        reader = READERS.get(path.suffix.lower())
        if reader is None:
            raise InputError(f"has an unknown suffix {path.suffix!r}.", where=str(path), code="I312",
                             hint="Use .rttm, .stm, .ctm, .TextGrid, .json (qasr result) or .txt.")
        try:
            records = list(reader(path))
        except QasrError as exc:
            if reader is read_json and not explicit and exc.code == "I306":
                continue  # a JSON file beside the results that is not one (summary, whisperx output)
            raise
        for record in records:
            found[record.uri] = _merge(found[record.uri], record) if record.uri in found else record
    return found


_TURNS_RANK = {".rttm": 0, ".json": 1}
_WORDS_RANK = {".json": 0, ".ctm": 1, ".textgrid": 2, ".stm": 3, ".txt": 4}


def _merge(old: EvalFile, new: EvalFile) -> EvalFile:
    """Combine two records of one uri, each part taken from the most specific format that gives it."""
    parts: dict[str, object] = {}
    for part, rank in (("turns", _TURNS_RANK), ("words", _WORDS_RANK)):
        mine, theirs = getattr(old, part), getattr(new, part)
        if mine is None or theirs is None:
            parts[part] = theirs if mine is None else mine
            continue
        old_rank = min((rank[x] for x in (Path(s).suffix.lower() for s in old.sources) if x in rank), default=9)
        new_rank = rank[Path(new.sources[0]).suffix.lower()]
        if old_rank == new_rank:
            raise InputError(f"gives {part} for uri {old.uri!r}, as {old.sources[0]} does.", where=new.sources[0],
                             code="I311", hint="Pass one file of each format per uri.")
        parts[part] = theirs if new_rank < old_rank else mine
    return replace(old, sources=old.sources + new.sources, **parts)  # type: ignore[arg-type]


