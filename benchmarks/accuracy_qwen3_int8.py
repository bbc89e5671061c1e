"""How far ``dtype: bfloat16`` and ``quantize: int8`` move the Qwen3 models from float32, on the same inputs.

Loads each model once in float32 (the reference) and once per variant — ``bfloat16``, ``float32+int8``,
``bfloat16+int8`` — and compares them on segments of ``--minutes`` of pyannote's sample (tiled):

* ``qwen3.asr``'s model, teacher-forced: the reference greedily continues each segment's prompt by ``--tokens``
  tokens; every variant then reads the same prompt + continuation, and at each continuation position we compare the
  next-token distributions: arg-max agreement with the reference and KL(reference ‖ variant) in nats.
* ``qwen3.forced_aligner``'s model: the timestamp-class distribution of every slot for the same words: arg-max
  agreement, the share within one 80 ms step, and KL(reference ‖ variant).

By default the models are the real-size random-weight checkpoints the speed benchmarks build (the released
configurations); ``--asr`` / ``--aligner`` take any checkpoint directory, e.g. the released weights. Random weights
make flat, uninformative distributions: these numbers bound the numerical deviation of a lever, not its effect on
word error rate, which needs the released weights and labelled audio.

    .venv/bin/python benchmarks/accuracy_qwen3_int8.py --output accuracy.json
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_qwen3_common import recording, vad_like_regions
from bench_qwen3_pipeline import _config, build_checkpoint

VARIANTS = (("bfloat16", None), ("float32", "int8"), ("bfloat16", "int8"))
WORDS = ("the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog", "while", "seven", "people", "watch",
         "from", "a", "small", "boat")


def words(seconds: float) -> str:
    """About 2.5 words per second of speech."""
    return " ".join(WORDS[i % len(WORDS)] for i in range(max(3, round(seconds * 2.5))))


def variant_name(dtype: str, quantize: str | None) -> str:
    return dtype + ("+" + quantize if quantize else "")


def load(path: Path, kind: str, dtype: str, quantize: str | None) -> Any:
    from qasr_plugins.qwen3.loading import load_model
    from qasr_plugins.qwen3.quantize import quantize_int8

    loaded = load_model(str(path), kind=kind, dtype=dtype)  # type: ignore[arg-type]
    if quantize == "int8":
        quantize_int8(loaded.model)
    return loaded


def asr_inputs(reference: Any, clips: list[Any], tokens: int) -> list[tuple[dict[str, Any], int]]:
    """Per clip: the prompt + the reference's greedy continuation, and where the continuation starts."""
    import torch

    prepared = []
    for clip in clips:
        inputs = reference.processor.apply_transcription_request([clip])
        with torch.inference_mode():
            output = reference.model.generate(**inputs, max_new_tokens=tokens, min_new_tokens=tokens,
                                              do_sample=False)
        start = inputs["input_ids"].shape[1]
        full = dict(inputs)
        full["input_ids"] = output
        full["attention_mask"] = torch.ones_like(output)
        prepared.append((full, start))
    return prepared


def asr_logprobs(model: Any, prepared: list[tuple[dict[str, Any], int]]) -> list[Any]:
    """Per clip: log-probabilities (float64) of the next token at every continuation position."""
    import torch

    result = []
    for inputs, start in prepared:
        feeding = {k: v.to(model.dtype) if k == "input_features" else v for k, v in inputs.items()}
        with torch.inference_mode():
            logits = model(**feeding).logits[0, start - 1:-1].double()
        result.append(torch.log_softmax(logits, -1))
    return result


def compare_asr(reference: list[Any], variant: list[Any]) -> dict[str, float]:
    import torch

    ref, var = torch.cat(reference), torch.cat(variant)
    agree = (ref.argmax(-1) == var.argmax(-1)).float().mean().item()
    kl = (ref.exp() * (ref - var)).sum(-1)
    entropy = -(ref.exp() * ref).sum(-1)
    return {"positions": int(ref.shape[0]), "top1_agreement": round(agree, 4), "kl_mean": float(f"{kl.mean():.3g}"),
            "kl_max": float(f"{kl.max():.3g}"), "reference_entropy": round(entropy.mean().item(), 3)}


def aligner_logprobs(loaded: Any, requests: list[Any]) -> Any:
    """Log-probabilities (float64) of the timestamp classes of every slot of every request, one request per pass."""
    import torch

    from qasr_plugins.qwen3.aligner import Qwen3AlignerBackend

    backend = Qwen3AlignerBackend(loaded.model, loaded.processor)
    return torch.cat([torch.log_softmax(backend.slot_logits([request])[0].double(), -1) for request in requests])


def compare_aligner(reference: Any, variant: Any, step_ms: float = 80.0) -> dict[str, float]:
    classes = reference.argmax(-1), variant.argmax(-1)
    steps = (classes[0] - classes[1]).abs().float()
    kl = (reference.exp() * (reference - variant)).sum(-1)
    return {"slots": int(reference.shape[0]), "class_agreement": round((steps == 0).float().mean().item(), 4),
            "within_one_step": round((steps <= 1).float().mean().item(), 4),
            "median_abs_ms": round(steps.median().item() * step_ms, 1), "kl_mean": float(f"{kl.mean():.3g}"),
            "reference_entropy": round(-(reference.exp() * reference).sum(-1).mean().item(), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--segments", type=int, default=6, help="Segments compared (4-16 s each).")
    parser.add_argument("--tokens", type=int, default=24, help="Continuation tokens per ASR segment.")
    parser.add_argument("--asr", type=Path, help="Qwen3-ASR checkpoint (default: real-size random weights).")
    parser.add_argument("--aligner", type=Path, help="Qwen3-ForcedAligner checkpoint (default: real-size random).")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/qasr-bench"))
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--smoke", action="store_true", help="Tiny random models (checks that the script runs).")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()

    import torch

    from qasr_plugins.alignment.engine import AlignRequest
    from qasr_plugins.alignment.text import split_units
    from qasr_plugins.types import Audio, Span

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    os.environ["HF_HUB_OFFLINE"] = "1"
    size = "tiny" if args.smoke else "0.6b"
    asr_path = args.asr or build_checkpoint(args.workdir / f"qwen3-asr-{size}-random-float32", "asr",
                                            None if args.smoke else _config("Qwen3-ASR-0.6B.config.json"), "float32")
    aligner_path = args.aligner or build_checkpoint(
        args.workdir / f"qwen3-aligner-{size}-random-float32", "forced_aligner",
        None if args.smoke else _config("Qwen3-ForcedAligner-0.6B.config.json"), "float32")
    wave = recording(args.minutes)
    spans = vad_like_regions(args.minutes)[:args.segments]
    clips = [wave[int(start * 16000):int(end * 16000)] for start, end in spans]
    audio = Audio(waveform=wave, sample_rate=16000, uri="recording")
    requests = [AlignRequest(audio.crop(Span(start, end)), tuple(split_units(words(end - start), "en")), "en")
                for start, end in spans]

    results: dict[str, Any] = {"segments": len(spans), "tokens": args.tokens, "asr": {}, "aligner": {}}
    reference = load(asr_path, "asr", "float32", None)
    prepared = asr_inputs(reference, clips, args.tokens)
    exact = asr_logprobs(reference.model, prepared)
    for dtype, quantize in VARIANTS:
        model = (copy.deepcopy(reference.model) if dtype == "float32" else load(asr_path, "asr", dtype, None).model)
        if quantize:
            from qasr_plugins.qwen3.quantize import quantize_int8

            quantize_int8(model)
        results["asr"][variant_name(dtype, quantize)] = compare_asr(exact, asr_logprobs(model, prepared))
        del model
    del reference
    reference = load(aligner_path, "forced_aligner", "float32", None)
    exact_slots = aligner_logprobs(reference, requests)
    for dtype, quantize in VARIANTS:
        results["aligner"][variant_name(dtype, quantize)] = compare_aligner(
            exact_slots, aligner_logprobs(load(aligner_path, "forced_aligner", dtype, quantize), requests))

    print(f"{len(spans)} segments of {args.minutes:g} min; reference: float32")
    for name, figures in results["asr"].items():
        print(f"  qwen3.asr            {name:15s} top-1 agreement {100 * figures['top1_agreement']:6.2f} %  "
              f"KL {figures['kl_mean']:.3g} nats (max {figures['kl_max']:.3g}; reference entropy "
              f"{figures['reference_entropy']:.2f}) over {figures['positions']} positions")
    for name, figures in results["aligner"].items():
        print(f"  qwen3.forced_aligner {name:15s} same class {100 * figures['class_agreement']:6.2f} %  "
              f"within one step {100 * figures['within_one_step']:6.2f} %  KL {figures['kl_mean']:.3g} nats "
              f"(reference entropy {figures['reference_entropy']:.2f}) over {figures['slots']} slots")
    if args.output:
        args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
