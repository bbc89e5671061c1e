"""Convert an original-layout Qwen3-ASR / Qwen3-ForcedAligner checkpoint (qwen-asr's ``thinker_config`` layout) into
transformers' native ``qwen3_asr`` layout (the ``-hf`` repositories).

Every source tensor must map onto a native parameter and every native parameter must be filled with a tensor of
the right shape; otherwise :class:`ConversionError` (``S421``) lists the offending names and nothing is written.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qasr_plugins.errors import StageError
from qasr_plugins.qwen3 import tokens
from qasr_plugins.qwen3.layout import CheckpointInfo, Kind, inspect_checkpoint, read_config
from qasr_plugins.qwen3.templates import ALIGNER_CHAT_TEMPLATE, ASR_CHAT_TEMPLATE

if TYPE_CHECKING:
    import torch

#: Bumped whenever the converter's output changes (part of the conversion cache key).
CONVERTER_VERSION = "1"

_AUDIO_KEYS = ("num_mel_bins", "encoder_layers", "encoder_attention_heads", "encoder_ffn_dim", "d_model", "dropout",
               "attention_dropout", "activation_function", "activation_dropout", "scale_embedding",
               "initializer_range", "n_window", "output_dim", "n_window_infer", "downsample_hidden_size")
_TEXT_KEYS = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
              "num_key_value_heads", "head_dim", "hidden_act", "max_position_embeddings", "initializer_range",
              "rms_norm_eps", "use_cache", "tie_word_embeddings", "attention_bias", "attention_dropout")
#: Position tables the original checkpoints may carry; the native model recomputes them.
_DERIVED_BUFFERS = ("thinker.audio_tower.positional_embedding.positional_embedding",)
_DERIVED_SUFFIXES = (".rotary_emb.inv_freq",)
_ARCHITECTURE = {"asr": "Qwen3ASRForConditionalGeneration", "forced_aligner": "Qwen3ASRForTokenClassification"}


class ConversionError(StageError):
    """A checkpoint could not be converted without leaving tensors unused or parameters unset."""

    code = "S421"


@dataclass(frozen=True)
class ConversionReport:
    """What :func:`convert_checkpoint` did.

    Attributes:
        source: The original-layout checkpoint.
        target: The written native checkpoint.
        kind: ``"asr"`` or ``"forced_aligner"``.
        tensors: Number of tensors written.
        skipped: Source buffers dropped because the native model recomputes them.
    """

    source: Path
    target: Path
    kind: Kind
    tensors: int
    skipped: tuple[str, ...]


def native_config(original: Mapping[str, Any], kind: Kind) -> dict[str, Any]:
    """The native ``config.json`` content for an original ``config.json``."""
    thinker = original["thinker_config"]
    audio_src, text_src = thinker["audio_config"], thinker["text_config"]
    audio = {key: audio_src[key] for key in _AUDIO_KEYS if key in audio_src}
    audio["max_position_embeddings"] = 13  # one conv chunk (100 mel frames) yields 13 positions
    text = {key: text_src[key] for key in _TEXT_KEYS if key in text_src}
    text["rope_parameters"] = {"rope_type": "default", "rope_theta": float(text_src.get("rope_theta", 1_000_000))}
    tied = bool(text_src.get("tie_word_embeddings", kind == "asr"))
    config: dict[str, Any] = {
        "model_type": "qwen3_asr", "architectures": [_ARCHITECTURE[kind]], "audio_config": audio,
        "text_config": text, "audio_token_id": thinker.get("audio_token_id", tokens.AUDIO_PAD_ID),
        "timestamp_token_id": original.get("timestamp_token_id", tokens.TIMESTAMP_ID),
        "tie_word_embeddings": tied, "pad_token_id": tokens.ENDOFTEXT_ID, "eos_token_id": list(tokens.EOS_IDS),
        "initializer_range": thinker.get("initializer_range", 0.02), "dtype": thinker.get("dtype", "bfloat16"),
    }
    if kind == "forced_aligner":
        config["num_labels"] = int(thinker["classify_num"])
    return config


def native_name(name: str, kind: Kind) -> str | None:
    """The native parameter name of an original tensor name, or ``None`` when no rule covers it."""
    head = "lm_head." if kind == "asr" else "score."
    rules = (("thinker.audio_tower.proj1.", "model.multi_modal_projector.linear_1."),
             ("thinker.audio_tower.proj2.", "model.multi_modal_projector.linear_2."),
             ("thinker.audio_tower.", "model.audio_tower."), ("thinker.model.", "model.language_model."),
             ("thinker.lm_head.", head))
    for old, new in rules:
        if name.startswith(old):
            return new + name[len(old):]
    return None


def _listing(names: Iterable[str], limit: int = 12) -> str:
    items = sorted(names)
    shown = ", ".join(items[:limit])
    return shown + (f" … (+{len(items) - limit} more)" if len(items) > limit else "")


def map_state_dict(source: Mapping[str, torch.Tensor], expected: Mapping[str, tuple[int, ...]], kind: Kind,
                   *, tied: bool, where: str = "") -> tuple[dict[str, torch.Tensor], tuple[str, ...]]:
    """Rename original tensors to native names and check the result covers ``expected`` exactly.

    Args:
        source: Original tensors by name.
        expected: Native parameter shapes by name (tied ``lm_head.weight`` included or not).
        kind: Model kind.
        tied: Whether ``lm_head.weight`` is tied to the input embeddings (then it is not stored).
        where: The checkpoint named in errors.

    Returns:
        The native tensors and the names of skipped derived buffers.

    Raises:
        ConversionError: listing unmapped source tensors, missing parameters and shape mismatches.
    """
    mapped: dict[str, torch.Tensor] = {}
    unmapped, skipped, mismatched = [], [], []
    for name, tensor in source.items():
        if name in _DERIVED_BUFFERS or name.endswith(_DERIVED_SUFFIXES):
            skipped.append(name)
            continue
        target = native_name(name, kind)
        if target is None or target not in expected:
            unmapped.append(name)
            continue
        if tuple(tensor.shape) != tuple(expected[target]):
            mismatched.append(f"{name} {tuple(tensor.shape)} → {target} {tuple(expected[target])}")
            continue
        mapped[target] = tensor
    embed = "model.language_model.embed_tokens.weight"
    if tied and "lm_head.weight" in mapped:
        if embed in mapped and not bool((mapped["lm_head.weight"] == mapped[embed]).all()):
            mismatched.append("thinker.lm_head.weight differs from the tied input embeddings")
        del mapped["lm_head.weight"]
    required = set(expected) - ({"lm_head.weight"} if tied else set())
    missing = sorted(required - set(mapped))
    problems = []
    if unmapped:
        problems.append(f"{len(unmapped)} source tensor(s) map to no parameter: {_listing(unmapped)}")
    if missing:
        problems.append(f"{len(missing)} parameter(s) would stay unset: {_listing(missing)}")
    if mismatched:
        problems.append(f"{len(mismatched)} shape mismatch(es): {_listing(mismatched)}")
    if problems:
        raise ConversionError("cannot convert checkpoint: " + "; ".join(problems), where=where,
                              hint="Check that the directory holds an unmodified Qwen3-ASR or Qwen3-ForcedAligner "
                                   "release; no weights were written.")
    return mapped, tuple(sorted(skipped))


def _read_tensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    files = sorted(path.glob("model-*.safetensors")) or sorted(path.glob("*.safetensors"))
    if not files:
        raise ConversionError("no *.safetensors weights", where=str(path),
                              hint="Download the complete checkpoint (config, tokenizer and weight files).")
    tensors: dict[str, torch.Tensor] = {}
    for file in files:
        tensors.update(load_file(str(file)))
    return tensors


def _expected_shapes(config: Any, kind: Kind) -> dict[str, tuple[int, ...]]:
    import torch
    from transformers import Qwen3ASRForConditionalGeneration, Qwen3ASRForTokenClassification

    model_class = Qwen3ASRForConditionalGeneration if kind == "asr" else Qwen3ASRForTokenClassification
    with torch.device("meta"):
        model = model_class(config)
    return {name: tuple(p.shape) for name, p in model.named_parameters(remove_duplicate=False)}


def write_processor(tokenizer_dir: Path, target: Path, kind: Kind, *, timestamp_segment_time: float = 80.0,
                    feature_settings: Mapping[str, Any] | None = None) -> None:
    """Write the native processor files (tokenizer, feature extractor, chat template) into ``target``."""
    from transformers import AutoTokenizer, Qwen3ASRFeatureExtractor, Qwen3ASRProcessor

    settings = {key: value for key, value in (feature_settings or {}).items()
                if key in ("feature_size", "sampling_rate", "hop_length", "n_fft", "chunk_length")}
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    template = ASR_CHAT_TEMPLATE if kind == "asr" else ALIGNER_CHAT_TEMPLATE
    processor = Qwen3ASRProcessor(feature_extractor=Qwen3ASRFeatureExtractor(**settings), tokenizer=tokenizer,
                                  chat_template=template, timestamp_segment_time=timestamp_segment_time)
    processor.save_pretrained(str(target))


def write_generation_config(target: Path) -> None:
    """The greedy decoding defaults of the released models."""
    config = {"do_sample": False, "eos_token_id": list(tokens.EOS_IDS), "pad_token_id": tokens.ENDOFTEXT_ID}
    (target / "generation_config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def convert_checkpoint(source: Path, target: Path, *, dtype: str | None = None,
                       overwrite: bool = False) -> ConversionReport:
    """Convert the original-layout checkpoint in ``source`` into a native checkpoint in ``target``.

    The result is written to a temporary sibling directory and moved into place only when complete.

    Args:
        source: Original-layout checkpoint directory.
        target: Output directory (must not exist unless ``overwrite``).
        dtype: Cast floating-point weights to this dtype (``"float32"``, ``"bfloat16"``); default keeps them.
        overwrite: Replace an existing ``target``.

    Raises:
        ConversionError: ``S421`` when weights do not map one to one; ``S422`` when ``target`` exists.
        StageError: ``S406`` when ``source`` is no original-layout Qwen3-ASR checkpoint.
    """
    import torch
    from safetensors.torch import save_file
    from transformers import Qwen3ASRConfig

    source, target = Path(source), Path(target)
    info: CheckpointInfo = inspect_checkpoint(source)
    if info.layout != "original":
        raise StageError("the checkpoint is already in the native layout", where=str(source), code="S406",
                         hint="Load it directly; conversion is only for original-layout checkpoints.")
    if target.exists() and not overwrite:
        raise ConversionError("the output directory exists", where=str(target), code="S422",
                              hint="Choose a new directory or pass --overwrite.")
    original = read_config(source)
    config_dict = native_config(original, info.kind)
    config = Qwen3ASRConfig(**config_dict)
    config.architectures = [_ARCHITECTURE[info.kind]]
    expected = _expected_shapes(config, info.kind)
    tensors, skipped = map_state_dict(_read_tensors(source), expected, info.kind,
                                      tied=bool(config_dict["tie_word_embeddings"]), where=str(source))
    if dtype is not None:
        cast = getattr(torch, dtype)
        tensors = {k: v.to(cast) if v.is_floating_point() else v for k, v in tensors.items()}
        config.dtype = dtype
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(staging / "model.safetensors"),
                  metadata={"format": "pt"})
        config.save_pretrained(str(staging))
        write_generation_config(staging)
        feature_file = source / "preprocessor_config.json"
        features = json.loads(feature_file.read_text(encoding="utf-8")) if feature_file.is_file() else {}
        write_processor(source, staging, info.kind, feature_settings=features,
                        timestamp_segment_time=float(original.get("timestamp_segment_time", 80)))
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ConversionReport(source, target, info.kind, len(tensors), skipped)
