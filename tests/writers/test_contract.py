"""Every first-party writer passes the writer contract third-party writers run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from qasr_plugins import registry
from qasr_plugins.adapters.nemo.ctm import CtmWriter
from qasr_plugins.adapters.nemo.manifest import ManifestWriter
from qasr_plugins.adapters.nemo.vad_manifest import VadManifestWriter
from qasr_plugins.adapters.whisper.whisperx import WhisperxWriter
from qasr_plugins.testing.contract import WriterContract
from qasr_plugins.writers.json_writer import JsonWriter
from qasr_plugins.writers.rttm import RttmWriter
from qasr_plugins.writers.subtitles import SrtWriter, VttWriter
from qasr_plugins.writers.text import TsvWriter, TxtWriter
from qasr_plugins.writers.textgrid import TextGridWriter


class TestJson(WriterContract):
    writer_class = JsonWriter
    registered_name = "json"


class TestSrt(WriterContract):
    writer_class = SrtWriter
    registered_name = "srt"


class TestVtt(WriterContract):
    writer_class = VttWriter
    registered_name = "vtt"


class TestRttm(WriterContract):
    writer_class = RttmWriter
    registered_name = "rttm"


class TestRttmFromTranscript(WriterContract):
    writer_class = RttmWriter
    settings: ClassVar[Mapping[str, Any]] = {"source": "transcript"}


class TestCtm(WriterContract):
    writer_class = CtmWriter
    registered_name = "ctm"


class TestCtmDiarizationLayout(WriterContract):
    writer_class = CtmWriter
    settings: ClassVar[Mapping[str, Any]] = {"layout": "diarization"}


class TestTextGrid(WriterContract):
    writer_class = TextGridWriter
    registered_name = "textgrid"


class TestTxt(WriterContract):
    writer_class = TxtWriter
    registered_name = "txt"


class TestTsv(WriterContract):
    writer_class = TsvWriter
    registered_name = "tsv"


class TestManifest(WriterContract):
    writer_class = ManifestWriter
    registered_name = "manifest"


class TestVadManifest(WriterContract):
    writer_class = VadManifestWriter
    registered_name = "vad_manifest"


class TestWhisperx(WriterContract):
    writer_class = WhisperxWriter
    registered_name = "whisperx"


def test_every_first_party_writer_runs_the_contract() -> None:
    covered = {cls.registered_name for cls in globals().values()
               if isinstance(cls, type) and issubclass(cls, WriterContract) and cls is not WriterContract}
    first_party = {e.name for e in registry.entries("writer") if e.distribution == "qasr-plugins"}
    assert first_party <= covered, f"no writer contract for {sorted(first_party - covered)}"
