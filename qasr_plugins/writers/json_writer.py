"""The ``json`` writer: the full result document (``docs/result-schema.md``), losslessly round-trippable."""

from __future__ import annotations

from qasr_plugins.document import ResultDocument
from qasr_plugins.stage import StageConfig, Writer


class JsonWriterConfig(StageConfig):
    indent: int | None = 2
    include_provenance: bool = True


class JsonWriter(Writer):
    """Writes ``<uri>.json``: speech regions, diarization, transcript and per-stage provenance."""

    config: JsonWriterConfig
    suffix = "json"

    def render(self, document: ResultDocument) -> str:
        config = self.config
        if not config.include_provenance:
            from dataclasses import replace

            document = replace(document, provenance=())
        return document.to_json(indent=config.indent) + "\n"
