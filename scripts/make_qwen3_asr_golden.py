"""Record the official qwen-asr package's answers on the tiny original-layout Qwen3-ASR checkpoint.

The test ``tests/qwen3/test_golden.py`` compares the ``qwen3.asr`` stage (after converting the same checkpoint)
against this file: prompt token ids, greedy token ids, decoded text, parsed language, and logits.

Run it in an environment with ``qwen-asr`` (0.0.6, transformers 4.57.x) installed; the tiny checkpoint is built by
qasr's own environment, deterministically:

    .venv/bin/python -m qasr_plugins.qwen3.tiny /tmp/tiny-asr-original --layout original
    scripts/make_reference_env.sh          # the official package, in .refenv
    .refenv/bin/python scripts/make_qwen3_asr_golden.py /tmp/tiny-asr-original SAMPLE.wav \\
        tests/data/golden/qwen3_asr_tiny.json

Clips are at most 8 s: longer clips take a different attention path in the official CPU code (full attention
instead of 8 s windows), see docs/qwen3.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from importlib.metadata import version
from pathlib import Path

import numpy as np
import soundfile
import torch
from qwen_asr import Qwen3ASRModel
from qwen_asr.inference.utils import parse_asr_output

CLIPS = ((0.5, 3.0), (7.6, 8.0), (18.05, 2.5), (25.0, 0.3))  # (start, duration) in seconds; the last one is padded
CASES = (("lid", "", None), ("forced", "", "English"), ("context", "Qwen3 speech toolkit, qasr", None))
MAX_NEW_TOKENS = 12
FIRST_SPECIAL = 151643


def checkpoint_digest(path: Path) -> str:
    digest = hashlib.sha256()
    for name in ("model.safetensors", "config.json", "vocab.json", "merges.txt", "tokenizer_config.json"):
        digest.update((path / name).read_bytes())
    return digest.hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("audio", type=Path)
    parser.add_argument("output", type=Path)
    args = parser.parse_args()

    torch.manual_seed(0)
    asr = Qwen3ASRModel.from_pretrained(str(args.checkpoint), dtype=torch.float32, device_map="cpu",
                                        max_new_tokens=MAX_NEW_TOKENS)
    vocab = json.loads((args.checkpoint / "vocab.json").read_text(encoding="utf-8"))
    reachable = sum(1 for token in vocab if not token.startswith("<|filler_"))
    kept = np.r_[0:reachable, FIRST_SPECIAL:asr.model.thinker.config.text_config.vocab_size]
    wave, rate = soundfile.read(str(args.audio), dtype="float32")
    assert rate == 16000 and wave.ndim == 1
    records = []
    for start, duration in CLIPS:
        clip = wave[round(start * rate):round((start + duration) * rate)]
        if len(clip) < rate // 2:  # the official minimum input: zero-padded to 0.5 s
            clip = np.pad(clip, (0, rate // 2 - len(clip)))
        for case, context, language in CASES:
            prompt = asr._build_text_prompt(context=context, force_language=language)
            inputs = asr.processor(text=[prompt], audio=[clip], return_tensors="pt", padding=True)
            inputs = inputs.to(asr.model.device).to(asr.model.dtype)
            with torch.inference_mode():
                out = asr.model.generate(**inputs, max_new_tokens=MAX_NEW_TOKENS, output_logits=True)
            prompt_ids = inputs["input_ids"][0].tolist()
            generated = out.sequences[0, len(prompt_ids):].tolist()
            raw = asr.processor.batch_decode([generated], skip_special_tokens=True,
                                             clean_up_tokenization_spaces=False)[0]
            parsed_language, text = parse_asr_output(raw, user_language=language)
            first = out.logits[0][0].float().numpy()
            records.append({
                "clip": [start, duration], "case": case, "context": context, "language": language,
                "samples": len(clip), "clip_sum": float(np.sum(clip, dtype=np.float64)),
                "prompt": prompt, "prompt_ids": prompt_ids, "generated_ids": generated, "raw": raw,
                "parsed_language": parsed_language, "text": text,
                "first_logits": [round(float(x), 6) for x in first[kept]],
                "chosen_logits": [round(float(step[0, token]), 6) for step, token in zip(out.logits, generated)],
            })
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({
        "reference": {"qwen-asr": version("qwen-asr"), "transformers": version("transformers"),
                      "torch": version("torch"), "dtype": "float32", "device": "cpu"},
        "checkpoint_digest": checkpoint_digest(args.checkpoint), "reachable": reachable,
        "max_new_tokens": MAX_NEW_TOKENS, "records": records}, indent=1) + "\n", encoding="utf-8")
    print(f"{len(records)} records → {args.output}")


if __name__ == "__main__":
    main()
