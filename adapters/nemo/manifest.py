"""The ``manifest`` writer: one NeMo-style JSONL line per input, and ``manifest.jsonl`` joining the run's lines.

Each line has ``audio_filepath``, ``duration`` (and ``offset`` when the input was a cut), ``pred_text`` and, when
known, ``lang`` (the transcript's single language). When the run also writes ``ctm``, each line names that file as
``word_level_ctm_filepath`` (as the NeMo Forced Aligner's output manifest does); ``ctm_dir`` points at CTM files
written elsewhere instead.

``audio_filepath`` is absolute (made so against the working directory of the run that read the audio). NeMo's
datasets resolve a relative path against the manifest's directory (``get_full_path``), but its diarization
readers (``audio_rttm_map``, the external VAD manifest) open the path as written, i.e. against whatever directory
NeMo runs in; an absolute path is the one form every NeMo reader and ``qasr run`` resolve alike from any working
directory, and wherever the manifest is moved.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from qasr_plugins.document import ResultDocument
from qasr_plugins.stage import StageConfig, Writer


def audio_filepath(document: ResultDocument) -> str:
    """The document's audio as an absolute path (the uri when the document names no file)."""
    return os.path.abspath(document.audio.path) if document.audio.path else document.uri


class ManifestConfig(StageConfig):
    ctm_dir: str | None = None


class ManifestWriter(Writer):
    """Writes ``<uri>.manifest.jsonl`` per input and ``manifest.jsonl`` for the run."""

    config: ManifestConfig
    suffix = "manifest.jsonl"
    collect_as = "manifest.jsonl"

    def __init__(self, config: StageConfig | None = None, **settings: object) -> None:
        super().__init__(config, **settings)
        self._ctm: tuple[Path, str] | None = None  # (directory, suffix) of the run's CTM files
    needs = frozenset({"transcript"})

    def bind(self, output_dir: Path, writers: Mapping[str, Writer]) -> None:
        ctm = writers.get("ctm")
        self._ctm = None if ctm is None else (output_dir.resolve(), ctm.suffix)

    def render(self, document: ResultDocument) -> str:
        config = self.config
        transcript = document.transcript
        entry: dict[str, object] = {"audio_filepath": audio_filepath(document),
                                    "duration": round(document.audio.duration, 6)}
        if document.audio.offset:
            entry["offset"] = document.audio.offset
        entry["pred_text"] = transcript.text if transcript is not None else ""
        languages = transcript.languages if transcript is not None else ()
        if len(languages) == 1:
            entry["lang"] = languages[0]
        if config.ctm_dir is not None:
            entry["word_level_ctm_filepath"] = str(Path(config.ctm_dir) / f"{document.uri}.ctm")
        elif self._ctm is not None:
            directory, suffix = self._ctm
            entry["word_level_ctm_filepath"] = str(directory / f"{document.uri}.{suffix}")
        return json.dumps(entry, ensure_ascii=False) + "\n"
