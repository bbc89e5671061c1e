"""The Qwen3 stages with ``device: cuda``: the same settings work on a GPU (bf16), with the CPU's results.

Run on a machine with a CUDA device (``pytest -m gpu``); skipped elsewhere.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers.models.qwen3_asr", reason="needs transformers with qwen3_asr")

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

from qasr_plugins.audio import load_audio
from qasr_plugins.stage import AlignInput, AsrInput
from qasr_plugins.types import Audio, Span, SpeechRegions, Transcript, TranscriptSegment


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from qasr_plugins.qwen3.tiny import build_scripted

    return build_scripted(tmp_path_factory.mktemp("scripted") / "checkpoint", "language English<asr_text>hello world")


def test_qwen3_asr_on_cuda_in_bf16_batches(scripted: Path, sample_wav: Path) -> None:
    from qasr_plugins.qwen3.asr import Qwen3Asr

    audio = load_audio(sample_wav)
    speech = SpeechRegions("sample", (Span(1.0, 5.0), Span(6.0, 11.0), Span(12.0, 20.0)))
    results = {}
    for device, dtype in (("cpu", "float32"), ("cuda", "bfloat16")):
        stage = Qwen3Asr(model=str(scripted), device=device, dtype=dtype, batch_size=16)
        results[device] = stage(AsrInput(audio, speech=speech))
        stage.close()
    assert results["cuda"] == results["cpu"]
    assert [s.text for s in results["cuda"].segments] == ["hello world"] * 3


def test_qwen3_aligner_on_cuda(tiny_aligner: Path, sample_wav: Path) -> None:
    from qasr_plugins.qwen3.aligner import Qwen3ForcedAligner

    audio = load_audio(sample_wav)
    transcript = Transcript("sample", (TranscriptSegment(Span(6.0, 11.0), "hello world again", language="en"),))
    timed = {}
    for device in ("cpu", "cuda"):
        stage = Qwen3ForcedAligner(model=str(tiny_aligner), device=device)
        timed[device] = [w.span for w in stage(AlignInput(audio, transcript)).words()]
        stage.close()
    assert len(timed["cuda"]) == 3
    for cpu, cuda in zip(timed["cpu"], timed["cuda"], strict=True):
        assert abs(cpu.start - cuda.start) <= 0.08 and abs(cpu.end - cuda.end) <= 0.08  # one aligner step


def test_qwen3_aligner_batches_every_window_on_cuda(tiny_aligner: Path, sample_wav: Path) -> None:
    from qasr_plugins.alignment.engine import AlignRequest
    from qasr_plugins.alignment.text import split_units
    from qasr_plugins.qwen3.aligner import Qwen3ForcedAligner

    audio = load_audio(sample_wav)
    stage = Qwen3ForcedAligner(model=str(tiny_aligner), device="cuda", batch_size=4)
    stage.ensure_loaded()
    units = tuple(split_units("one two three", "en"))
    long = Audio("long", np.tile(audio.waveform, 6))
    requests = [AlignRequest(long.crop(Span(0.0, seconds)), units, "en") for seconds in (5.0, 5.0, 150.0, 150.0)]
    assert [len(batch) for batch in stage.backend.batches(requests)] == [4]  # the CPU would run each 150 s alone
    segments = tuple(TranscriptSegment(Span(start, start + 4.0), "hello world again", language="en")
                     for start in (1.0, 6.0, 11.0, 16.0))
    words = stage(AlignInput(audio, Transcript("sample", segments))).words()
    assert len(words) == 12 and all(w.span is not None for w in words)
    stage.close()
