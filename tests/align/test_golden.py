"""Agreement with the official ``qwen_asr.Qwen3ForcedAligner.align`` on the same tiny weights.

The golden files were recorded by ``scripts/make_qwen3_aligner_golden.py`` in an environment with qwen-asr 0.0.6;
this test needs only the files.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from qasr_plugins.alignment.engine import AlignRequest, FlowSettings, align_transcript
from qasr_plugins.alignment.reproject import TimedUnit, reproject
from qasr_plugins.alignment.text import split_units
from qasr_plugins.stage import AlignInput
from qasr_plugins.types import Audio, Span, Transcript, TranscriptSegment

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = sorted((ROOT / "tests" / "data" / "golden").glob("qwen3_aligner_*.json"))


def _script():
    spec = importlib.util.spec_from_file_location("golden_script", ROOT / "scripts" / "make_qwen3_aligner_golden.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def golden_backend(tiny_aligner_original: Path):
    from safetensors.torch import load_file

    from qasr_plugins.qwen3.loading import load_model
    from qasr_plugins.qwen3.tiny import weights_digest

    built = (weights_digest(load_file(str(tiny_aligner_original / "model.safetensors"))),
             _script().tokenizer_digest(tiny_aligner_original))
    recorded = {(c["weights_digest"], c["tokenizer_digest"])
                for c in (json.loads(p.read_text(encoding="utf-8"))["checkpoint"] for p in GOLDEN)}
    # A different checkpoint is a failure, never a skip (see tests/qwen3/test_golden.py).
    assert recorded == {built}, (f"the tiny checkpoint built here ({built}) is not the one the golden files were "
                                 f"recorded on ({recorded}); re-run scripts/make_qwen3_aligner_golden.py")
    return load_model(str(tiny_aligner_original), kind="forced_aligner")  # converted from the original layout


def test_golden_files_cover_four_languages():
    assert {json.loads(p.read_text(encoding="utf-8"))["language"] for p in GOLDEN} == {"en", "zh", "ja", "ko"}


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_same_timestamps_as_the_official_aligner(path: Path, golden_backend, tmp_path: Path):
    from qasr_plugins.qwen3.aligner import Qwen3AlignerBackend

    golden = json.loads(path.read_text(encoding="utf-8"))
    dictionary = None
    if golden["korean_dictionary_words"]:
        dictionary = tmp_path / "words.dict"
        dictionary.write_text("".join(f"{w} 10 x\n" for w in golden["korean_dictionary_words"]), encoding="utf-8")
    backend = Qwen3AlignerBackend(golden_backend.model, golden_backend.processor,
                                  None if dictionary is None else str(dictionary))
    audio = Audio("golden", _script().golden_audio(golden["seconds"], golden["audio_seed"]))
    units = tuple(split_units(golden["text"], golden["language"], backend.korean_dictionary))
    assert [u.text for u in units] == [item["text"] for item in golden["items"]]

    request = AlignRequest(audio, units, golden["language"])
    assert backend.raw_milliseconds([request])[0] == golden["raw_ms"]
    spans = backend.align([request])[0]
    assert [(s.start, s.end) for s in spans] == [(item["start"], item["end"]) for item in golden["items"]]

    # The same numbers reach the words of the flow when QC is off: shifted by the audio offset exactly once and
    # clamped to the segment (random tiny weights answer far past the clip's end).
    offset = 12.5
    shifted = Audio("golden", audio.waveform, offset=offset)
    segment = TranscriptSegment(Span(offset, offset + shifted.duration), golden["text"], golden["language"])
    out = align_transcript(backend, AlignInput(shifted, Transcript("golden", (segment,))), FlowSettings(repair=False))
    expected = reproject(golden["text"], [
        TimedUnit(u, Span(item["start"] + offset, item["end"] + offset).clamped(segment.span.start, segment.span.end))
        for u, item in zip(units, golden["items"], strict=True)], golden["language"])
    assert out.segments[0].words == expected
