"""``quantize: int8``: which layers it quantizes, how close the output stays to float32, where it is refused."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from qasr_plugins.audio import load_audio
from qasr_plugins.stage import AlignInput, AsrInput
from qasr_plugins.types import Span, Transcript, TranscriptSegment


@pytest.fixture(scope="module")
def clips(sample_wav: Path) -> list[np.ndarray]:
    wave = load_audio(sample_wav).waveform
    return [wave[start * 16000:(start + 3) * 16000] for start in range(0, 24, 3)]


@pytest.fixture(scope="module")
def pair(tiny_asr: Path):
    from qasr_plugins.qwen3.loading import load_model
    from qasr_plugins.qwen3.quantize import quantize_int8

    loaded = load_model(str(tiny_asr), kind="asr")
    return loaded, quantize_int8(copy.deepcopy(loaded.model))


def test_every_linear_layer_and_the_embedding_are_int8(pair) -> None:
    import torch

    from qasr_plugins.qwen3.int8 import Int8Embedding, Int8Linear

    loaded, quantized = pair
    assert isinstance(quantized.lm_head, Int8Linear)
    assert isinstance(quantized.get_input_embeddings(), Int8Embedding)
    assert any(isinstance(m, Int8Linear) for m in quantized.model.audio_tower.modules())
    assert not any(type(m) in (torch.nn.Linear, torch.nn.Embedding) for m in quantized.modules())
    assert any(type(m) is torch.nn.Linear for m in loaded.model.modules())


def test_rows_quantized_in_blocks_equal_the_whole_matrix_quantized_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from qasr_plugins.qwen3 import int8

    weight = torch.randn(1000, 48, dtype=torch.bfloat16) * torch.logspace(-3, 1, 1000)[:, None].bfloat16()
    scales = (weight.float().abs().amax(dim=1) / 127.0).double()
    whole = torch.quantize_per_channel(weight.float(), scales, torch.zeros(1000, dtype=torch.long), 0, torch.qint8)
    monkeypatch.setattr(int8, "ROWS_PER_BLOCK", 96)
    blocks = int8.quantize_rows(weight)
    assert torch.equal(blocks.int_repr(), whole.int_repr())
    assert torch.equal(blocks.q_per_channel_scales(), whole.q_per_channel_scales())


def test_int8_embedding_rows_are_within_half_a_step_of_the_originals() -> None:
    import torch

    from qasr_plugins.qwen3.int8 import Int8Embedding

    embedding = torch.nn.Embedding(300, 64).to(torch.bfloat16)
    quantized = Int8Embedding(embedding)
    ids = torch.tensor([[0, 5, 299], [7, 7, 1]])
    exact, approximate = embedding(ids).float(), quantized(ids)
    assert approximate.dtype == torch.bfloat16 and approximate.shape == exact.shape
    step = embedding.weight.float().abs().amax(dim=1)[ids] / 127.0
    assert ((approximate.float() - exact).abs() <= step[..., None] * 0.51 + exact.abs() / 128).all()
    assert not torch.equal(approximate.float(), exact)


def test_int8_logits_and_tokens_stay_close_to_float32(pair, clips) -> None:
    import torch

    loaded, quantized = pair
    inputs = loaded.processor.apply_transcription_request(clips)
    with torch.inference_mode():
        exact, int8 = loaded.model(**inputs).logits, quantized(**inputs).logits
        prompt = inputs["input_ids"].shape[1]
        tokens = [m.generate(**inputs, max_new_tokens=8, do_sample=False)[:, prompt:] for m in (loaded.model,
                                                                                                quantized)]
    error = ((exact - int8).pow(2).mean() / exact.pow(2).mean()).sqrt().item()
    assert 0 < error < 0.2
    assert (exact.argmax(-1) == int8.argmax(-1)).float().mean().item() > 0.9
    assert (tokens[0] == tokens[1]).all(-1).float().mean().item() >= 0.5


def test_stages_load_int8_and_run(tiny_asr: Path, tiny_aligner: Path, sample_wav: Path) -> None:
    import torch

    from qasr_plugins.qwen3.aligner import Qwen3ForcedAligner
    from qasr_plugins.qwen3.asr import Qwen3Asr
    from qasr_plugins.qwen3.int8 import Int8Linear

    audio = load_audio(sample_wav).crop(Span(0.0, 6.0))
    asr = Qwen3Asr(model=str(tiny_asr), quantize="int8", max_new_tokens=4)
    asr.ensure_loaded()
    assert isinstance(asr.model.lm_head, Int8Linear)
    (segment,) = asr(AsrInput(audio)).segments
    assert segment.tokens and len(segment.words) >= 1
    aligner = Qwen3ForcedAligner(model=str(tiny_aligner), quantize="int8", language="en")
    exact = Qwen3ForcedAligner(model=str(tiny_aligner), language="en")
    transcript = Transcript(audio.uri, (TranscriptSegment(Span(0.5, 5.5), "one two three four five", "en"),))
    words = [stage(AlignInput(audio, transcript)).segments[0].words for stage in (aligner, exact)]
    assert words[0] == words[1] and all(w.span for w in words[0])
    assert not any(type(m) is torch.nn.Linear for m in aligner.backend.model.modules())


@pytest.mark.parametrize(("settings", "message"), [
    ({"device": "cuda:0"}, "CPU only"), ({"quantize": "int4"}, "int8")])
def test_int8_is_refused_where_it_cannot_run(settings: dict, message: str) -> None:
    from pydantic import ValidationError

    from qasr_plugins.qwen3.aligner import Qwen3AlignerConfig
    from qasr_plugins.qwen3.asr import Qwen3AsrConfig

    for config in (Qwen3AsrConfig, Qwen3AlignerConfig):
        with pytest.raises(ValidationError, match=message):
            config(**{"quantize": "int8", **settings})
    assert Qwen3AsrConfig(device="cuda:0").quantize is None


def test_bfloat16_model_keeps_bfloat16_around_int8_layers(tiny_asr: Path, clips) -> None:
    """A bf16 model quantizes layer by layer: int8 linears and embedding, bf16 norms and embeddings out, bf16 logits
    close to bf16's."""
    import torch

    from qasr_plugins.qwen3.int8 import Int8Linear
    from qasr_plugins.qwen3.loading import load_model
    from qasr_plugins.qwen3.quantize import quantize_int8

    loaded = load_model(str(tiny_asr), kind="asr", dtype="bfloat16")
    quantized = quantize_int8(copy.deepcopy(loaded.model))
    assert isinstance(quantized.lm_head, Int8Linear)
    assert quantized.get_input_embeddings()(torch.tensor([1, 2])).dtype == torch.bfloat16
    inputs = loaded.processor.apply_transcription_request(clips)
    inputs["input_features"] = inputs["input_features"].to(torch.bfloat16)
    with torch.inference_mode():
        exact, int8 = loaded.model(**inputs).logits.float(), quantized(**inputs).logits
    assert int8.dtype == torch.bfloat16
    error = ((exact - int8.float()).pow(2).mean() / exact.pow(2).mean()).sqrt().item()
    assert 0 < error < 0.2
    assert (exact.argmax(-1) == int8.argmax(-1)).float().mean().item() > 0.9


def test_quantizing_a_model_off_the_cpu_is_a_coded_error() -> None:
    import torch

    from qasr_plugins.errors import StageError
    from qasr_plugins.qwen3.quantize import quantize_int8

    model = torch.nn.Sequential(torch.nn.Linear(4, 4, device="meta"))
    with pytest.raises(StageError) as info:
        quantize_int8(model)
    assert info.value.code == "S414"
    assert type(model[0]) is torch.nn.Linear


def _resident_file_kib() -> int:
    status = Path("/proc/self/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("RssFile:")).split()[1])


def test_dropping_a_replaced_weight_keeps_the_file_mapped_data_intact(tmp_path: Path) -> None:
    """Pages given back from a checkpoint's private map read back unchanged; memory outside any map is untouched."""
    import torch

    from qasr_plugins.qwen3.quantize import _checkpoint_mappings, _drop_pages

    values = np.arange(4 * 1024 * 1024, dtype=np.float32)
    path = tmp_path / "model.safetensors"
    values.tofile(path)
    mapped_array = np.memmap(path, dtype=np.float32, mode="c")
    weight = torch.from_numpy(mapped_array)
    assert torch.equal(weight, torch.from_numpy(values))  # every page read, so resident
    ranges = _checkpoint_mappings()
    assert any(low <= weight.data_ptr() < high for low, high in ranges)
    before = _resident_file_kib()
    _drop_pages(weight, ranges)
    assert before - _resident_file_kib() > 12 * 1024  # most of the 16 MiB given back
    assert np.array_equal(weight.numpy(), values)
    anonymous = torch.from_numpy(values.copy())
    _drop_pages(anonymous, ranges)
    assert np.array_equal(anonymous.numpy(), values)


def test_a_tied_embedding_and_its_vocabulary_projection_read_the_same_int8_rows(tiny_asr: Path) -> None:
    import torch

    from qasr_plugins.qwen3.loading import load_model
    from qasr_plugins.qwen3.quantize import quantize_int8

    exact = load_model(str(tiny_asr), kind="asr", dtype="bfloat16").model
    quantized = quantize_int8(load_model(str(tiny_asr), kind="asr", dtype="bfloat16").model)
    embedding = quantized.get_input_embeddings()
    projection, _ = torch.ops.quantized.linear_unpack(quantized.lm_head._packed)
    assert torch.equal(projection.int_repr(), embedding._values)
    ids = torch.arange(exact.get_input_embeddings().num_embeddings)
    assert torch.allclose(embedding(ids).float(), exact.get_input_embeddings()(ids).float(), atol=0.02, rtol=0.02)
