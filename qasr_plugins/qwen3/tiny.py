"""Tiny random-weight Qwen3-ASR / Qwen3-ForcedAligner checkpoints for tests and benchmarks, built offline in seconds.

The files are those of the released repositories (native ``-hf`` layout or the original qwen-asr layout): a
``config.json``, ``model.safetensors`` and processor/tokenizer files whose token table keeps every special token at
its real id. The tokenizer is a small byte-level BPE trained on a built-in text, padded with unreachable filler
entries up to the first special id, so prompts tokenize exactly as with the released models. Weights are drawn
from a generator seeded per tensor name, so a checkpoint is bit-for-bit reproducible on a given torch version.

Run ``python -m qasr_plugins.qwen3.tiny DIR [--kind asr|forced_aligner] [--layout native|original]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qasr_plugins.languages import LANGUAGES
from qasr_plugins.qwen3 import tokens
from qasr_plugins.qwen3.convert import native_config, write_generation_config, write_processor
from qasr_plugins.qwen3.languages import ALIGNER_LANGUAGES
from qasr_plugins.qwen3.layout import Kind, Layout
from qasr_plugins.qwen3.templates import ASR_CHAT_TEMPLATE

if TYPE_CHECKING:
    import torch

_CORPUS = (
    "language English language Chinese language None the quick brown fox jumps over the lazy dog. "
    "Speech recognition turns spoken words into written text; alignment gives every word a time. "
    "Hello, how are you today? I am fine, thank you. We met on Monday at ten o'clock near the station. "
    "Numbers: one two three four five six seven eight nine ten 2026. "
    + " ".join(LANGUAGES)
)
_BPE_VOCAB = 600


@dataclass(frozen=True)
class TinySizes:
    """Dimensions of a tiny model (the real ones are far larger; token ids and window sizes stay real)."""

    audio_width: int = 32
    audio_layers: int = 2
    audio_heads: int = 2
    downsample: int = 8
    text_width: int = 32
    text_layers: int = 2
    text_heads: int = 2
    kv_heads: int = 1
    head_dim: int = 16
    classes: int = 5000


def _mrope_section(head_dim: int) -> list[int]:
    """Rotary sections in the released 24:20:20 proportions (temporal, height, width)."""
    half = head_dim // 2
    side = half * 20 // 64
    return [half - 2 * side, side, side]


def original_config(kind: Kind, sizes: TinySizes = TinySizes()) -> dict[str, Any]:
    """An original-layout ``config.json`` shaped like the released ones, with tiny sizes."""
    aligner = kind == "forced_aligner"
    audio = {"model_type": "qwen3_asr_audio_encoder", "activation_function": "gelu", "activation_dropout": 0,
             "attention_dropout": 0, "dropout": 0, "conv_chunksize": 500, "d_model": sizes.audio_width,
             "downsample_hidden_size": sizes.downsample, "encoder_attention_heads": sizes.audio_heads,
             "encoder_ffn_dim": 2 * sizes.audio_width, "encoder_layers": sizes.audio_layers,
             "num_hidden_layers": sizes.audio_layers, "initializer_range": 0.02, "max_source_positions": 1500,
             "n_window": 50, "n_window_infer": 800, "num_mel_bins": 128, "output_dim": sizes.text_width,
             "scale_embedding": False}
    text = {"model_type": "qwen3", "attention_bias": False, "attention_dropout": 0.0, "head_dim": sizes.head_dim,
            "hidden_act": "silu", "hidden_size": sizes.text_width, "initializer_range": 0.02,
            "intermediate_size": 2 * sizes.text_width, "max_position_embeddings": 8192 if aligner else 65536,
            "num_attention_heads": sizes.text_heads, "num_hidden_layers": sizes.text_layers,
            "num_key_value_heads": sizes.kv_heads, "rms_norm_eps": 1e-6,
            "rope_scaling": {"interleaved": True, "mrope_interleaved": True,
                             "mrope_section": _mrope_section(sizes.head_dim),
                             "rope_type": "default", "type": "default"},
            "rope_theta": 1000000, "tie_word_embeddings": not aligner, "use_cache": True,
            "vocab_size": tokens.ALIGNER_VOCAB_SIZE if aligner else tokens.ASR_VOCAB_SIZE}
    thinker: dict[str, Any] = {
        "model_type": "qwen3_forced_aligner" if aligner else "qwen3_asr",
        "architectures": ["Qwen3ASRForConditionalGeneration"], "audio_config": audio, "text_config": text,
        "audio_start_token_id": tokens.AUDIO_START_ID, "audio_end_token_id": tokens.AUDIO_END_ID,
        "audio_token_id": tokens.AUDIO_PAD_ID, "dtype": "float32", "initializer_range": 0.02}
    config: dict[str, Any] = {"architectures": ["Qwen3ASRForConditionalGeneration"], "model_type": "qwen3_asr",
                              "thinker_config": thinker, "transformers_version": "4.57.6"}
    if aligner:
        thinker["classify_num"] = sizes.classes
        config.update(support_languages=sorted(ALIGNER_LANGUAGES), timestamp_token_id=tokens.TIMESTAMP_ID,
                      timestamp_segment_time=80)
    else:
        config["support_languages"] = list(LANGUAGES)
    return config


def write_tokenizer_files(target: Path) -> None:
    """``vocab.json``, ``merges.txt`` and ``tokenizer_config.json`` in the released (original) format."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=_BPE_VOCAB, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator([_CORPUS], trainer=trainer)
    model = json.loads(tokenizer.to_str())["model"]
    vocab: dict[str, int] = dict(sorted(model["vocab"].items(), key=lambda item: item[1]))
    for filler in range(len(vocab), tokens.FIRST_ADDED_ID):
        vocab[f"<|filler_{filler}|>"] = filler  # never produced by a merge: unreachable
    merges = [" ".join(m) if isinstance(m, list) else m for m in model["merges"]]
    target.mkdir(parents=True, exist_ok=True)
    (target / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (target / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    (target / "tokenizer_config.json").write_text(json.dumps(tokens.original_tokenizer_config(), indent=2),
                                                  encoding="utf-8")


def reachable_token_count(tokenizer_dir: Path) -> int:
    """How many entries of a tiny vocabulary are real BPE tokens (ids below this are reachable)."""
    vocab = json.loads((tokenizer_dir / "vocab.json").read_text(encoding="utf-8"))
    return sum(1 for token in vocab if not token.startswith("<|filler_"))


def _tensor(name: str, shape: tuple[int, ...], seed: int) -> torch.Tensor:
    import torch

    generator = torch.Generator().manual_seed(zlib.crc32(name.encode()) + seed)
    if name.endswith(("norm.weight", "ln_post.weight")) or "layer_norm.weight" in name:
        return 1.0 + 0.1 * torch.randn(shape, generator=generator)
    if name.endswith(".bias"):
        return 0.02 * torch.randn(shape, generator=generator)
    fan_in = 1
    for dim in shape[1:]:
        fan_in *= dim
    return torch.randn(shape, generator=generator) / max(1.0, fan_in) ** 0.5


def native_weights(config: Any, kind: Kind, *, seed: int, reachable: int) -> dict[str, torch.Tensor]:
    """Deterministic native weights; embedding (and tied head) rows of ids without a token are zero."""
    import torch
    from transformers import Qwen3ASRForConditionalGeneration, Qwen3ASRForTokenClassification

    model_class = Qwen3ASRForConditionalGeneration if kind == "asr" else Qwen3ASRForTokenClassification
    with torch.device("meta"):
        model = model_class(config)
    weights = {}
    for name, parameter in model.named_parameters():  # tied lm_head appears once, as the embeddings
        tensor = _tensor(name, tuple(parameter.shape), seed)
        if name.endswith("embed_tokens.weight") or name == "lm_head.weight":
            # small rows, so layer outputs (which see the audio) dominate the residual stream
            tensor *= 0.1 / float(tensor.std())
            tensor[reachable:tokens.FIRST_ADDED_ID] = 0.0
            tensor[tokens.LAST_ADDED_ID + 1:] = 0.0
        weights[name] = tensor.contiguous()
    return weights


def original_name(name: str, kind: Kind) -> str:
    """The original-layout name of a native parameter (the inverse of the converter's rules)."""
    pairs = (("model.multi_modal_projector.linear_1.", "thinker.audio_tower.proj1."),
             ("model.multi_modal_projector.linear_2.", "thinker.audio_tower.proj2."),
             ("model.audio_tower.", "thinker.audio_tower."), ("model.language_model.", "thinker.model."),
             ("lm_head." if kind == "asr" else "score.", "thinker.lm_head."))
    for native, original in pairs:
        if name.startswith(native):
            return original + name[len(native):]
    raise KeyError(name)


def weights_digest(weights: Mapping[str, torch.Tensor]) -> str:
    """A digest of tensor names and values (identifies a tiny checkpoint across layouts)."""
    digest = hashlib.sha256()
    for name in sorted(weights):
        digest.update(name.encode())
        digest.update(weights[name].float().numpy().tobytes())
    return digest.hexdigest()[:16]


def build_tiny(target: Path, *, kind: Kind = "asr", layout: Layout = "native", seed: int = 0,
               sizes: TinySizes = TinySizes(), config: Mapping[str, Any] | None = None,
               dtype: str = "float32") -> Path:
    """Write a random-weight checkpoint into ``target`` (created) and return it.

    Args:
        target: Output directory.
        kind: ``"asr"`` or ``"forced_aligner"``.
        layout: ``"native"`` or ``"original"``.
        seed: Added to every tensor's seed.
        sizes: Tiny dimensions (ignored when ``config`` is given).
        config: An original-layout ``config.json`` to use instead (e.g. a released one, for real-size
            benchmarks with random weights).
        dtype: Stored weight dtype (``"float32"`` or ``"bfloat16"``).
    """
    import torch
    from safetensors.torch import save_file
    from transformers import Qwen3ASRConfig

    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    original = dict(config) if config is not None else original_config(kind, sizes)
    native = Qwen3ASRConfig(**native_config(original, kind))
    with tempfile.TemporaryDirectory() as scratch:
        tokenizer_dir = Path(scratch)
        write_tokenizer_files(tokenizer_dir)
        weights = native_weights(native, kind, seed=seed, reachable=reachable_token_count(tokenizer_dir))
        weights = {name: tensor.to(getattr(torch, dtype)) for name, tensor in weights.items()}
        if layout == "native":
            native.architectures = native_config(original, kind)["architectures"]
            native.dtype = dtype
            native.save_pretrained(str(target))
            save_file(weights, str(target / "model.safetensors"), metadata={"format": "pt"})
            write_generation_config(target)
            write_processor(tokenizer_dir, target, kind, timestamp_segment_time=80.0)
            return target
        for name in ("vocab.json", "merges.txt", "tokenizer_config.json"):
            (target / name).write_bytes((tokenizer_dir / name).read_bytes())
    save_file({original_name(k, kind): v for k, v in weights.items()}, str(target / "model.safetensors"),
              metadata={"format": "pt"})
    (target / "config.json").write_text(json.dumps(original, indent=2), encoding="utf-8")
    write_generation_config(target)
    (target / "preprocessor_config.json").write_text(json.dumps(
        {"feature_extractor_type": "WhisperFeatureExtractor", "feature_size": 128, "sampling_rate": 16000,
         "hop_length": 160, "chunk_length": 30, "n_fft": 400, "padding_side": "right", "padding_value": 0.0,
         "return_attention_mask": True, "dither": 0.0, "processor_class": "Qwen3ASRProcessor"}, indent=2),
        encoding="utf-8")
    (target / "chat_template.json").write_text(json.dumps({"chat_template": ASR_CHAT_TEMPLATE}), encoding="utf-8")
    return target


def build_scripted(target: Path, answer: str, *, seed: int = 0) -> Path:
    """A tiny native Qwen3-ASR checkpoint that answers ``answer`` (then ``<|im_end|>``) whatever it hears.

    Attention and MLP outputs of the language model are zeroed, so each position's hidden state is its token's
    embedding, and an untied output head maps every token of the script to the next one. The model runs the real
    loading, prompting, decoding and parsing code with a known answer (``"language English<asr_text>hello"``,
    ``"language None<asr_text>"`` …). After a forced-language prompt it continues from ``<asr_text>``.

    Raises:
        ValueError: when the script needs one token to be followed by two different ones.
    """
    import torch
    from safetensors.torch import load_file, save_file
    from transformers import AutoTokenizer

    target = build_tiny(target, kind="asr", layout="native", seed=seed)
    tokenizer = AutoTokenizer.from_pretrained(str(target))
    header_end = tokenizer("<|im_start|>assistant\n").input_ids[-1]
    chain = [header_end, *tokenizer(answer, add_special_tokens=False).input_ids, tokens.IM_END_ID]
    successor: dict[int, int] = {}
    for current, following in pairwise(chain):
        if successor.setdefault(current, following) != following:
            raise ValueError(f"token {tokenizer.convert_ids_to_tokens(current)!r} has two successors in {answer!r}")
    weights = load_file(str(target / "model.safetensors"))
    for name, tensor in weights.items():
        if name.startswith("model.language_model.") and name.endswith(("o_proj.weight", "down_proj.weight")):
            tensor.zero_()
    weights["model.language_model.norm.weight"].fill_(1.0)
    embeddings = weights["model.language_model.embed_tokens.weight"]
    head = torch.zeros_like(embeddings)
    for current, following in successor.items():
        head[following] = 10.0 * embeddings[current] / embeddings[current].norm()
    weights["lm_head.weight"] = head
    save_file(weights, str(target / "model.safetensors"), metadata={"format": "pt"})
    config_file = target / "config.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    config["tie_word_embeddings"] = False
    config["text_config"]["tie_word_embeddings"] = False
    config_file.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", type=Path)
    parser.add_argument("--kind", choices=("asr", "forced_aligner"), default="asr")
    parser.add_argument("--layout", choices=("native", "original"), default="native")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(build_tiny(args.target, kind=args.kind, layout=args.layout, seed=args.seed))


if __name__ == "__main__":
    main()
