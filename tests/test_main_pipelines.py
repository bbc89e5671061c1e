"""The pipelines that ship with qasr, run for real through the CLI (tiny Qwen3 checkpoints where Qwen3 runs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from qasr_plugins.document import ResultDocument
from qasr_plugins.graph import available_pipelines, load_pipeline, packaged_configs_dir

pytest.importorskip("transformers.models.qwen3_asr", reason="transformers >= 5.13 with qwen3_asr is required")


def test_every_shipped_pipeline_validates() -> None:
    assert {"vad", "offline", "qwen3_asr", "qwen3_asr_aligned", "diarized_transcript", "nemo"} <= set(
        available_pipelines())
    for name in available_pipelines():
        assert load_pipeline(name).nodes


@pytest.mark.parametrize(("kind", "target"), [("asr", "stages/asr"), ("diarization", "stages/diarization@stages.diar"),
                                             ("vad", "stages/vad")])
def test_every_shipped_preset_swaps_into_the_offline_pipeline(kind: str, target: str) -> None:
    from omegaconf import OmegaConf

    presets = sorted((packaged_configs_dir() / "stages" / kind).glob("*.yaml"))
    assert presets
    for preset in presets:
        spec = load_pipeline("offline", [f"{target}={preset.stem}"], formats=["json"])
        [node] = [n for n in spec.nodes if n.name == ("diar" if kind == "diarization" else kind)]
        assert node.stage_name == OmegaConf.load(preset).name, preset.stem


def test_diarized_transcript_with_tiny_qwen3_checkpoints(sample_wav: Path, tiny_asr: Path, tiny_aligner_original: Path,
                                                         tmp_path: Path) -> None:
    out = tmp_path / "out"
    command = [sys.executable, "-m", "qasr_plugins.cli", "run", "diarized_transcript", str(sample_wav), "-o",
               str(out), "--no-progress", "--format", "json,srt,vtt,rttm,ctm,textgrid,txt,manifest,whisperx",
               "stages/diarization@stages.diar=embedded", f"stages.asr.model={tiny_asr}",
               "stages.asr.max_new_tokens=12", f"stages.align.model={tiny_aligner_original}",
               "stages.align.language=en"]
    result = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, HF_HUB_OFFLINE="1"),
                            timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    document = ResultDocument.load(out / "sample.json")
    assert document.diarization is not None and len(document.diarization.turns.speakers) == 2
    segments = document.transcript.segments
    assert segments and all(document.speech.regions[0].start - 0.01 <= s.span.start for s in segments)
    words = [w for s in segments for w in s.words]
    assert words and all(w.span is not None for w in words if "untimed" not in w.flags)
    assert {w.speaker for w in words if w.speaker} <= set(document.diarization.turns.speakers)
    assert [r.node for r in document.provenance] == ["vad", "diar", "asr", "align", "words"]
    for suffix in ("srt", "vtt", "rttm", "ctm", "TextGrid", "txt", "manifest.jsonl", "whisperx.json"):
        assert (out / f"sample.{suffix}").is_file(), suffix
