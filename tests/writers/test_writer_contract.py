"""Every first-party writer passes the writer contract third-party writers run: one contract class per registered
first-party writer, made from the registry (so a new writer is covered the day it is registered), plus the settings
variants that change what a writer needs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qasr_plugins import registry
from qasr_plugins.testing.contract import WriterContract

FIRST_PARTY = sorted(e.name for e in registry.entries("writer") if e.distribution == "qasr-plugins")
#: Settings under which a writer needs other parts of the result than with its defaults.
VARIANTS: dict[str, tuple[str, Mapping[str, Any]]] = {
    "RttmFromTranscript": ("rttm", {"source": "transcript"}),
    "CtmDiarizationLayout": ("ctm", {"layout": "diarization"}),
}


def _contract(name: str, writer: str, settings: Mapping[str, Any], registered: str | None) -> type[WriterContract]:
    return type(name, (WriterContract,), {"writer_class": registry.load("writer", writer), "settings": settings,
                                          "registered_name": registered, "__module__": __name__})


for _writer in FIRST_PARTY:
    _name = "Test" + "".join(part.title() for part in _writer.split("_"))
    globals()[_name] = _contract(_name, _writer, {}, _writer)
for _variant, (_writer, _settings) in VARIANTS.items():
    globals()["Test" + _variant] = _contract("Test" + _variant, _writer, _settings, None)


def test_the_contracts_cover_every_shipped_writer() -> None:
    assert {"json", "srt", "vtt", "rttm", "ctm", "textgrid", "txt", "tsv", "manifest", "whisperx",
            "vad_manifest"} <= set(FIRST_PARTY)
