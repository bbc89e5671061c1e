"""The audio encoder in bounded calls: the same outputs as one call over the padded batch, never more chunks at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from qasr_plugins.audio import load_audio


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_bounded_calls_give_the_outputs_of_one_call_and_convolve_few_chunks(
        tiny_asr: Path, sample_wav: Path, dtype: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from qasr_plugins.qwen3 import encoder
    from qasr_plugins.qwen3.loading import load_model

    loaded = load_model(str(tiny_asr), kind="asr", dtype=dtype)
    tower = loaded.model.model.audio_tower
    wave = load_audio(sample_wav).waveform
    # under a chunk, a part-chunk, several windows, and longer than a call's span: rows are cut mid-row
    clips = [wave[:8000], wave[16000:16000 + 37100], wave[:16000 * 9], wave[16000:16000 * 26]]
    features = loaded.processor.feature_extractor(clips, sampling_rate=16000, return_tensors="pt", padding=True,
                                                  return_attention_mask=True)
    inputs = (features["input_features"].to(getattr(torch, dtype)), features["attention_mask"])
    widths: list[int] = []
    tower.conv2d1.register_forward_pre_hook(lambda module, args: widths.append(args[0].shape[0]))
    with torch.inference_mode():
        whole = type(tower).forward(tower, *inputs).last_hidden_state  # transformers' own: one call
        monkeypatch.setattr(encoder, "CHUNKS_PER_CALL", 8)
        widths.clear()
        bounded = loaded.model.model.get_audio_features(*inputs, return_dict=True).last_hidden_state
    assert bounded.shape == whole.shape
    assert torch.allclose(bounded.float(), whole.float(), rtol=1e-5, atol=1e-5)
    assert len(widths) >= 4 and max(widths) <= 8
    assert sum(widths) < inputs[0].shape[0] * inputs[0].shape[2] // 100  # padding chunks are not all convolved


def test_the_encoder_keeps_its_parameter_names(tiny_asr: Path) -> None:
    from qasr_plugins.qwen3.loading import load_model

    model = load_model(str(tiny_asr), kind="asr").model
    assert "model.audio_tower.conv2d1.weight" in model.state_dict()
    assert model.model.audio_tower.forward.__func__.__name__ == "_bounded_forward"
