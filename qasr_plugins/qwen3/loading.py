"""Load a Qwen3-ASR or Qwen3-ForcedAligner model and its processor from a hub id or a local directory.

Hub ids follow the Hugging Face cache conventions (``HF_HOME``, ``HF_HUB_CACHE``, ``HF_HUB_OFFLINE``, ``HF_TOKEN``,
``cache_dir``, ``revision``). Original-layout checkpoints (qwen-asr's ``thinker_config`` layout) are converted once
into ``$QASR_CACHE/converted/<key>`` (default ``~/.cache/qasr``) and loaded from there.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qasr_plugins.cachedir import cache_root
from qasr_plugins.errors import ConfigError, QasrError, StageError
from qasr_plugins.modelpaths import is_local_path
from qasr_plugins.qwen3.layout import CheckpointInfo, Kind, inspect_checkpoint
from qasr_plugins.trust import check_pickled_weights, is_refusal, pretrained, refusal_reason, untrusted

_KIND_NAMES = {"asr": "Qwen3-ASR", "forced_aligner": "Qwen3-ForcedAligner"}
_DTYPES = ("float32", "bfloat16", "float16")


@dataclass(frozen=True)
class LoadedModel:
    """A model ready for inference.

    Attributes:
        model: ``Qwen3ASRForConditionalGeneration`` (ASR) or ``Qwen3ASRForTokenClassification`` (aligner), in
            eval mode on its device.
        processor: The matching ``Qwen3ASRProcessor``.
        checkpoint: The directory the model was loaded from (after conversion, the converted one).
        source: The checkpoint as found (hub snapshot or local directory), with its original layout.
    """

    model: Any
    processor: Any
    checkpoint: Path
    source: CheckpointInfo


def _looks_like_path(model: str) -> bool:
    """A path (:func:`~qasr_plugins.modelpaths.is_local_path`), or a bare name: Qwen3 hub ids have an owner."""
    return is_local_path(model) or "/" not in model


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _not_found(model: str, kind: Kind, reason: str) -> StageError:
    name = _KIND_NAMES[kind]
    local = f"Set `model:` to a local directory holding a {name} checkpoint (config.json, *.safetensors and " \
            "tokenizer files, native -hf or original layout)"
    hint = f"{local}." if _looks_like_path(model) else \
        f"{local}, or download {model!r} into the Hugging Face cache (`hf download {model}`) and keep HF_HUB_OFFLINE=1."
    return StageError(f"cannot find the {name} model {model!r}: {reason}", where="model", code="S404", hint=hint)


def resolve_checkpoint(model: str, *, kind: Kind, revision: str | None = None, cache_dir: str | None = None,
                       token: str | None = None) -> Path:
    """The local directory of ``model``: the directory itself, or the hub snapshot (downloaded if allowed).

    Raises:
        StageError: ``S404`` when the directory does not exist, or the hub id is neither cached nor downloadable.
    """
    local = Path(model).expanduser()
    if local.is_dir():
        return local.resolve()
    if _looks_like_path(model):
        raise _not_found(model, kind, "no such directory")
    from huggingface_hub import snapshot_download

    token = token or os.environ.get("HF_TOKEN") or None
    patterns = ["*.json", "*.safetensors", "*.txt", "*.jinja", "*.model"]
    try:
        return Path(snapshot_download(model, revision=revision, cache_dir=cache_dir, token=token,
                                      allow_patterns=patterns, local_files_only=True))
    except Exception as cached_miss:  # any cache miss falls through to a download attempt
        if _offline():
            raise _not_found(model, kind, "not in the Hugging Face cache and HF_HUB_OFFLINE is set") from cached_miss
    try:
        return Path(snapshot_download(model, revision=revision, cache_dir=cache_dir, token=token,
                                      allow_patterns=patterns))
    except Exception as exc:  # network, auth and missing repos all end here
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        raise _not_found(model, kind, f"download failed ({type(exc).__name__}: {first_line})") from exc


def _conversion_key(path: Path) -> str:
    from qasr_plugins.qwen3.convert import CONVERTER_VERSION

    digest = hashlib.sha256(f"{CONVERTER_VERSION}\0{path.resolve()}".encode())
    for file in sorted(path.iterdir()):
        if file.is_file():
            stat = file.stat()
            digest.update(f"\0{file.name}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:20]


def native_checkpoint(info: CheckpointInfo) -> Path:
    """A native-layout directory for ``info``: itself, or its (cached) conversion."""
    if info.layout == "native":
        return info.path
    from qasr_plugins.qwen3.convert import convert_checkpoint

    target = cache_root() / "converted" / _conversion_key(info.path)
    if not (target / "model.safetensors").is_file():
        convert_checkpoint(info.path, target, overwrite=True)
    return target


def _at_model(error: QasrError) -> QasrError:
    """A checkpoint error named by its file, located at the ``model`` setting instead (the file joins the message)."""
    if error.where in ("", "model"):
        return error.replace(where="model")
    return error.replace(message=f"{error.message} ({error.where})", where="model")


def load_model(model: str, *, kind: Kind, revision: str | None = None, cache_dir: str | None = None,
               dtype: str = "float32", device: str = "cpu", attn_implementation: str | None = "sdpa",
               trust: bool = False) -> LoadedModel:
    """Load ``model`` (hub id or directory, either layout) for ``kind`` inference.

    Weights in ``*.safetensors`` always load; pickle-based ``pytorch_model*.bin`` ones only when torch's
    weights-only loader accepts them, unless ``trust`` (the stage's ``trust_checkpoint``).

    Raises:
        StageError: ``S404`` not found, ``S405`` the checkpoint is the other kind of model, ``S406`` unreadable,
            ``S407`` pickled weights that could run code, ``S421`` conversion failed; each located at ``model``
            (a file it names is in the message).
        ConfigError: ``C141`` unknown dtype.
    """
    import torch
    from transformers import AutoProcessor, Qwen3ASRForConditionalGeneration, Qwen3ASRForTokenClassification

    from qasr_plugins.qwen3.encoder import bound_audio_encoder

    if dtype not in _DTYPES:
        raise ConfigError(f"unknown dtype {dtype!r}", where="dtype", code="C141",
                         hint=f"Use one of {', '.join(_DTYPES)}.")
    local = resolve_checkpoint(model, kind=kind, revision=revision, cache_dir=cache_dir)
    try:
        source = inspect_checkpoint(local)
    except QasrError as exc:
        raise _at_model(exc) from exc
    if source.kind != kind:
        raise StageError(f"{model!r} is a {_KIND_NAMES[source.kind]} checkpoint, not a {_KIND_NAMES[kind]} one",
                         where="model", code="S405",
                         hint=f"Use a {_KIND_NAMES[kind]} checkpoint for this stage.")
    try:
        checkpoint = native_checkpoint(source)
    except QasrError as exc:
        raise _at_model(exc) from exc
    check_pickled_weights(checkpoint, trusted=trust)
    model_class = Qwen3ASRForConditionalGeneration if kind == "asr" else Qwen3ASRForTokenClassification
    try:
        network = pretrained(model_class, str(checkpoint), trusted=trust, dtype=getattr(torch, dtype),
                             attn_implementation=attn_implementation)
        processor = AutoProcessor.from_pretrained(str(checkpoint))
    except (OSError, ValueError, KeyError, pickle.UnpicklingError) as exc:
        if is_refusal(exc):
            raise untrusted(f"the weights of {str(checkpoint)!r}", refusal_reason(exc)) from exc
        raise StageError(f"cannot load the checkpoint {str(checkpoint)!r}: {exc}".splitlines()[0], where="model",
                         code="S406",
                         hint="Re-download or re-convert the checkpoint.") from exc
    network.to(device).eval()
    bound_audio_encoder(network)
    return LoadedModel(network, processor, checkpoint, source)
