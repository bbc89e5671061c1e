"""The ``manifest`` writer: one NeMo-style JSONL line per input, and ``manifest.jsonl`` joining the run's lines.

Each line has ``audio_filepath``, ``duration`` (and ``offset`` when the input was a cut), ``pred_text`` and, when
known, ``lang`` (the transcript's single language). When the run also writes ``ctm``, each line names that file as
``word_level_ctm_filepath`` (as the NeMo Forced Aligner's output manifest does); ``ctm_dir`` points at CTM files
written elsewhere instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from qasr_plugins.document import ResultDocument
from qasr_plugins.stage import StageConfig, Writer


class ManifestConfig(StageConfig):
    ctm_dir: str | None = None


class ManifestWriter(Writer):
    """Writes ``<uri>.manifest.jsonl`` per input and ``manifest.jsonl`` for the run."""

    Config = ManifestConfig

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
        entry: dict[str, object] = {"audio_filepath": document.audio.path or document.uri,
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
