"""The growing key/value cache: the same keys and values as transformers' concatenating layer, written in place."""

from __future__ import annotations

import pytest

pytest.importorskip("transformers.cache_utils")


def test_growing_layer_holds_what_the_dynamic_layer_holds_through_growth_selection_and_crop() -> None:
    import torch
    from transformers.cache_utils import DynamicLayer

    from qasr_plugins.qwen3 import kvcache

    growing, dynamic = kvcache.GrowingLayer(), DynamicLayer()
    torch.manual_seed(0)
    steps = [5, *([1] * (kvcache.ROOM + 3))]  # a prompt, then single steps past the first buffer's room
    buffers = set()
    for length in steps:
        keys, values = torch.randn(3, 2, length, 4), torch.randn(3, 2, length, 4)
        got, want = growing.update(keys, values), dynamic.update(keys, values)
        assert all(torch.equal(a, b) for a, b in zip(got, want, strict=True))
        buffers.add(growing._buffers[0].data_ptr())
    assert len(buffers) == 2  # grown once, not reallocated each step
    assert growing.get_seq_length() == dynamic.get_seq_length() == 5 + kvcache.ROOM + 3
    rows = torch.tensor([2, 0])
    growing.batch_select_indices(rows)
    dynamic.batch_select_indices(rows)
    growing.crop(-2)
    dynamic.crop(-2)
    keys, values = torch.randn(2, 2, 1, 4), torch.randn(2, 2, 1, 4)
    got, want = growing.update(keys, values), dynamic.update(keys, values)
    assert all(torch.equal(a, b) for a, b in zip(got, want, strict=True))
    with pytest.raises(ValueError):
        growing.crop(3)


def test_decoding_with_the_growing_cache_gives_the_tokens_of_the_dynamic_cache(tiny_asr, sample_wav,
                                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from qasr_plugins.audio import load_audio
    from qasr_plugins.qwen3 import decode, kvcache
    from qasr_plugins.qwen3.loading import load_model

    loaded = load_model(str(tiny_asr), kind="asr")
    wave = load_audio(sample_wav).waveform
    inputs = loaded.processor.apply_transcription_request([wave[:16000 * 3], wave[16000 * 5:16000 * 13]])
    assert kvcache.growing_cache(loaded.model) is not None

    def run() -> torch.Tensor:
        with torch.inference_mode():
            return decode.greedy_decode(loaded.model, inputs, max_new_tokens=kvcache.ROOM + 20, eos_ids=[-1], pad_id=0)

    growing = run()
    monkeypatch.setattr(kvcache, "growing_cache", lambda model: None)
    assert torch.equal(growing, run()) and growing.shape[1] == kvcache.ROOM + 20
