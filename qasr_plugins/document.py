"""The per-file result document and its versioned JSON form.

The JSON layout is documented in ``docs/result-schema.md``. ``schema_version`` follows semantic versioning:
readers accept every document with the same major version.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qasr_plugins.errors import InputError
from qasr_plugins.rich import HtmlView, document_html, document_repr
from qasr_plugins.types import Diarization, SpeechRegions, StageRecord, Transcript

SCHEMA_VERSION = "1.1"
SCHEMA_ID = "qasr.result"


@dataclass(frozen=True)
class AudioInfo:
    """What was read: where from, how long, which part of the recording, and what looked wrong with the file.

    ``warnings`` (written only when there are some) flag a file whose audio may be incomplete, e.g. a WAV header
    declaring less audio than the file holds.
    """

    path: str | None
    duration: float
    sample_rate: int = 16_000
    offset: float = 0.0
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"path": self.path, "duration": self.duration, "sample_rate": self.sample_rate,
                                "offset": self.offset}
        return data | {"warnings": list(self.warnings)} if self.warnings else data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AudioInfo:
        return cls(data.get("path"), float(data["duration"]), int(data.get("sample_rate", 16_000)),
                   float(data.get("offset", 0.0)), tuple(data.get("warnings", ())))


@dataclass(frozen=True)
class ResultDocument:
    """Everything a pipeline produced for one recording, with provenance for each stage."""

    uri: str
    audio: AudioInfo
    speech: SpeechRegions | None = None
    diarization: Diarization | None = None
    transcript: Transcript | None = None
    provenance: tuple[StageRecord, ...] = ()
    pipeline: str | None = None
    qasr_version: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def timings(self) -> dict[str, float]:
        """Seconds each node took on this recording (its share of the batch it ran in), in execution order."""
        return {record.node: record.wall_time for record in self.provenance}

    @property
    def cache(self) -> dict[str, str | None]:
        """What the stage cache did for each node (``"hit"``, ``"miss"``, ``"uncacheable"``; ``None`` without a
        cache), in execution order."""
        return {record.node: record.cache for record in self.provenance}

    def show(self, *, words: bool = False) -> HtmlView:
        """A view of the document for Jupyter: its summary, timings and transcript table (each word, coloured by
        its speaker, with ``words``)."""
        return HtmlView(document_html(self, words=words), document_repr(self))

    def _repr_html_(self) -> str:
        return document_html(self)

    def __repr__(self) -> str:
        return document_repr(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_ID,
            "schema_version": SCHEMA_VERSION,
            "uri": self.uri,
            "audio": self.audio.to_dict(),
            "pipeline": self.pipeline,
            "qasr_version": self.qasr_version,
            "speech": None if self.speech is None else self.speech.to_dict(),
            "diarization": None if self.diarization is None else self.diarization.to_dict(),
            "transcript": None if self.transcript is None else self.transcript.to_dict(),
            "provenance": [p.to_dict() for p in self.provenance],
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<dict>") -> ResultDocument:
        if not isinstance(data, Mapping) or data.get("schema") != SCHEMA_ID:
            raise InputError("is not a qasr result document (no 'schema': 'qasr.result').", where=source,
                             code="I306", hint="Pass a JSON file written by the 'json' writer.")
        version = str(data.get("schema_version", ""))
        if version.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
            raise InputError(f"has schema_version {version!r}; this qasr reads {SCHEMA_VERSION.split('.')[0]}.x.",
                             where=source, code="I307", hint="Convert it with the qasr version that wrote it.")
        speech, diarization, transcript = data.get("speech"), data.get("diarization"), data.get("transcript")
        try:
            return cls(
                uri=data["uri"],
                audio=AudioInfo.from_dict(data["audio"]),
                speech=None if speech is None else SpeechRegions.from_dict(speech),
                diarization=None if diarization is None else Diarization.from_dict(diarization),
                transcript=None if transcript is None else Transcript.from_dict(transcript),
                provenance=tuple(StageRecord.from_dict(p) for p in data.get("provenance", ())),
                pipeline=data.get("pipeline"),
                qasr_version=data.get("qasr_version"),
                extra=dict(data.get("extra", {})),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            detail = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
            raise InputError(f"is a qasr result document that cannot be read ({detail}).", where=source, code="I310",
                             hint="Pass a JSON file written by the 'json' writer, unedited.") from None

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent, allow_nan=False)

    @classmethod
    def from_json(cls, text: str, *, source: str = "<string>") -> ResultDocument:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"is not valid JSON ({exc}).", where=source, code="I306") from exc
        return cls.from_dict(data, source=source)

    @classmethod
    def load(cls, path: str | Path) -> ResultDocument:
        path = Path(path)
        return cls.from_json(path.read_text(encoding="utf-8"), source=str(path))
