"""The decoding loop that drops finished rows gives what transformers' ``generate`` gives, step for step."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from qasr_plugins.audio import load_audio
from qasr_plugins.qwen3.tokens import ENDOFTEXT_ID, EOS_IDS, IM_END_ID


class EndAt:
    """End row ``r`` after ``2 + 2 r`` tokens (rows finish one after another)."""

    def __init__(self, prompt: int) -> None:
        self.prompt = prompt

    def __call__(self, ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        done = ids.shape[1] - self.prompt
        for row in range(ids.shape[0]):
            if done >= 2 + 2 * row:
                scores[row] = -1e9
                scores[row, IM_END_ID] = 0.0
        return scores


@pytest.fixture(scope="module")
def model_and_batch(tiny_asr: Path, sample_wav: Path):
    from qasr_plugins.qwen3.loading import load_model

    loaded = load_model(str(tiny_asr), kind="asr")
    wave = load_audio(sample_wav).waveform
    clips = [wave[start * 16000:int((start + 1.5 + 0.7 * start) * 16000)] for start in range(6)]
    return loaded.model, loaded.processor.apply_transcription_request(clips)


@pytest.mark.parametrize("threshold", [0, 2])
def test_same_tokens_as_generate_while_rows_leave_the_batch(model_and_batch, threshold: int) -> None:
    from transformers import LogitsProcessorList, StoppingCriteriaList

    from qasr_plugins.qwen3.decode import greedy_decode
    from qasr_plugins.qwen3.guards import RepetitionStop

    model, inputs = model_and_batch
    prompt = inputs["input_ids"].shape[1]
    stops = [RepetitionStop(prompt, threshold)] if threshold else []
    with torch.inference_mode():
        expected = model.generate(**inputs, max_new_tokens=16, do_sample=False,
                                  logits_processor=LogitsProcessorList([EndAt(prompt)]),
                                  stopping_criteria=StoppingCriteriaList(stops))[:, prompt:]
        sizes: list[int] = []
        hook = model.lm_head.register_forward_hook(lambda _m, args, _o: sizes.append(args[0].shape[0]))
        try:
            got = greedy_decode(model, inputs, max_new_tokens=16, eos_ids=EOS_IDS, pad_id=ENDOFTEXT_ID,
                                processors=[EndAt(prompt)], stops=stops)
        finally:
            hook.remove()
    assert torch.equal(got, expected)
    assert sizes == sorted(sizes, reverse=True) and sizes[0] == 6
    assert len(sizes) == got.shape[1]
    if not threshold:  # every row ends at its own step: the batch shrinks to one row
        assert sizes[-1] == 1 and (got == IM_END_ID).sum(-1).tolist() == [1] * 6
        assert np.diff(sizes).min() <= -1
