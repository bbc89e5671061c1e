"""Greedy decoding of a Qwen3-ASR batch that stops computing rows as they finish.

transformers' ``generate`` keeps every row of a batch in every step until the last one ends: rows that have
answered keep decoding padding, so a batch of short and long answers costs as much as all long ones. Here a row that
ends (an end token or a stopping criterion) leaves the batch: its key/value cache, attention mask and position are
dropped and later steps run the model on the remaining rows only. Everything the caller sees is as ``generate``
gives it: logits processors and stopping criteria are called with the whole batch (finished rows padded, their
scores zero), the prompt's positions come from its attention mask, the prefill computes the vocabulary
projection for the last position only, and finished rows are padded to the longest answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

#: ``(sequences, scores) -> scores``, as transformers' logits processors.
Processor = Callable[[Any, Any], Any]
#: ``(sequences, scores) -> bool tensor``: which rows are done, as transformers' stopping criteria.
Stop = Callable[[Any, Any], Any]


def greedy_decode(model: Any, inputs: Mapping[str, Any], *, max_new_tokens: int, eos_ids: Sequence[int],
                  pad_id: int, processors: Sequence[Processor] = (), stops: Sequence[Stop] = ()) -> Any:
    """The generated ids of each row, ``(batch, steps)``: greedy, rows padded with ``pad_id`` after they end.

    Args:
        model: A ``Qwen3ASRForConditionalGeneration``.
        inputs: The processor's batch (``input_ids``, ``attention_mask``, ``input_features``, …) on the model's
            device, left-padded.
        max_new_tokens: Most steps.
        eos_ids: Tokens that end a row (kept in its output).
        pad_id: What finished rows get.
        processors: Called in order on every step's scores.
        stops: Stopping criteria; a row is done when any says so.
    """
    import torch

    from qasr_plugins.qwen3.kvcache import growing_cache

    prompt = inputs["input_ids"]
    batch = prompt.shape[0]
    mask = inputs["attention_mask"]
    positions = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)
    output = model(**inputs, position_ids=positions, cache=growing_cache(model), use_cache=True, logits_to_keep=1)
    cache, logits = output.cache, output.logits[:, -1, :].to(dtype=torch.float32)
    last = positions[:, -1]
    rows = torch.arange(batch, device=prompt.device)
    unfinished = torch.ones(batch, dtype=torch.bool, device=prompt.device)
    eos = torch.tensor(list(eos_ids), device=prompt.device)
    sequences = prompt
    for step in range(max_new_tokens):
        scores = logits.new_zeros((batch, logits.shape[-1]))
        scores[rows] = logits
        for processor in processors:
            scores = processor(sequences, scores)
        tokens = torch.where(unfinished, scores.argmax(-1), torch.full_like(unfinished, pad_id, dtype=torch.long))
        sequences = torch.cat([sequences, tokens[:, None]], dim=-1)
        done = torch.isin(tokens, eos)
        for stop in stops:
            done |= stop(sequences, scores)
        unfinished &= ~done
        if not unfinished.any() or step + 1 == max_new_tokens:
            break
        keep = unfinished[rows]
        if not keep.all():
            kept = keep.nonzero()[:, 0]
            cache.batch_select_indices(kept)
            rows, mask, last = rows[kept], mask[kept], last[kept]
        mask = torch.cat([mask, mask.new_ones((len(rows), 1))], dim=-1)
        last = last + 1
        output = model(input_ids=tokens[rows][:, None], attention_mask=mask, position_ids=last[:, None], cache=cache,
                       use_cache=True)
        cache, logits = output.cache, output.logits[:, -1, :].to(dtype=torch.float32)
    return sequences[:, prompt.shape[1]:]
