"""The benchmarks' scripted end: every row of a batch stops at its own length, read from its prompt."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
from bench_qwen3_common import AUDIO_PAD_ID, IM_END_ID, script_generate


def test_rows_stop_after_rate_times_their_seconds(tiny_asr: Path) -> None:
    from qasr_plugins.qwen3.loading import load_model

    loaded = load_model(str(tiny_asr), kind="asr")
    counts = script_generate(loaded.model, 2.0)
    rng = np.random.default_rng(0)
    inputs = loaded.processor.apply_transcription_request(
        [rng.normal(0, 0.1, 16000 * seconds).astype(np.float32) for seconds in (6, 2)])
    with torch.inference_mode():
        output = loaded.model.generate(**inputs, max_new_tokens=40, do_sample=False)
    generated = output[:, inputs["input_ids"].shape[1]:]
    pads = (inputs["input_ids"] == AUDIO_PAD_ID).sum(-1).tolist()
    expected = [max(1, round(2.0 * n / 13.0)) for n in pads]
    assert expected[0] > expected[1] >= 1
    lengths = [int((row == IM_END_ID).nonzero()[0, 0]) for row in generated]
    assert lengths == expected
    assert counts.calls == 1 and counts.decoded == sum(expected) + 2
