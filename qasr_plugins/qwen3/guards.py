"""Stop decoding a sequence once it is caught in a loop (imports transformers; load it lazily)."""

from __future__ import annotations

import torch
from transformers import StoppingCriteria


class RepetitionStop(StoppingCriteria):
    """Finish a sequence whose newest tokens repeat one pattern of up to ``max_pattern`` tokens more than
    ``threshold`` times in a row.

    Such a loop only ends at ``max_new_tokens`` (hundreds of wasted decoding steps on CPU) and the text is collapsed
    to a single occurrence afterwards anyway (see :func:`qasr_plugins.qwen3.output.collapse_repetitions`).

    Args:
        prompt_length: Tokens of the (padded) prompt; only generated tokens are inspected.
        threshold: Repeats allowed before stopping.
        max_pattern: Longest pattern looked for, in tokens.
    """

    def __init__(self, prompt_length: int, threshold: int, max_pattern: int = 8) -> None:
        self.prompt_length = prompt_length
        self.threshold = threshold
        self.max_pattern = max_pattern

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: object) -> torch.BoolTensor:
        generated = input_ids[:, self.prompt_length:]
        looping = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        for size in range(1, self.max_pattern + 1):
            span = size * (self.threshold + 1)
            if generated.shape[1] < span:
                break
            tail = generated[:, -span:].reshape(input_ids.shape[0], self.threshold + 1, size)
            looping |= (tail == tail[:, :1]).all(dim=2).all(dim=1)
        return looping
