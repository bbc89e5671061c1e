"""The ``vad_manifest`` writer: speech regions as the external VAD manifest NeMo's ``ClusteringDiarizer`` reads.

One JSON line per speech region, with the keys NeMo's own VAD and oracle-VAD manifests have
(``write_overlap_segments``): ``audio_filepath`` (absolute, see :mod:`.manifest`), ``offset`` and ``duration`` (s,
in the recording), ``label`` (``UNK``, as NeMo writes) and ``uniq_id`` (the audio file's stem: the key NeMo's
``audio_rttm_map`` gives the diarizer's input manifest). The run's lines are joined in ``vad_manifest.jsonl``, the
file to pass as ``diarizer.vad.external_vad_manifest`` (with ``diarizer.vad.model_path: null``) next to a
diarizer input manifest listing the same audio files (e.g. the ``manifest`` writer's ``manifest.jsonl``).

The regions are the document's speech regions (a VAD-only pipeline such as ``qasr run vad``); without them, the
union of the diarization's turns — what NeMo's ``oracle_vad`` derives from an RTTM file.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import Field

from qasr_plugins.adapters.nemo.manifest import audio_filepath
from qasr_plugins.document import ResultDocument
from qasr_plugins.stage import AnyOf, Requirement, StageConfig, Writer
from qasr_plugins.types import SpeechRegions

LABEL = "UNK"  # the label NeMo's VAD gives every speech segment


class VadManifestConfig(StageConfig):
    decimals: int = Field(5, ge=0, le=6, description="Decimals of offset and duration (NeMo: 5).")


def speech_of(document: ResultDocument) -> SpeechRegions:
    """The document's speech regions, else the union of its diarization turns (empty when it has neither)."""
    if document.speech is not None:
        return document.speech
    if document.diarization is not None:
        return document.diarization.turns.speech()
    return SpeechRegions(document.uri)


class VadManifestWriter(Writer):
    """Writes ``<uri>.vad_manifest.jsonl`` per input and ``vad_manifest.jsonl`` for the run."""

    config: VadManifestConfig
    suffix = "vad_manifest.jsonl"
    collect_as = "vad_manifest.jsonl"

    @classmethod
    def requires(cls, config: StageConfig) -> frozenset[Requirement]:
        return frozenset({AnyOf.of("speech", "diarization")})

    def render(self, document: ResultDocument) -> str:
        decimals = self.config.decimals
        path = audio_filepath(document)
        uniq_id = Path(path).stem
        lines = [json.dumps({"audio_filepath": path, "offset": round(region.start, decimals),
                             "duration": round(region.duration, decimals), "label": LABEL, "uniq_id": uniq_id},
                            ensure_ascii=False) + "\n"
                 for region in speech_of(document) if round(region.duration, decimals) > 0]
        return "".join(lines)
