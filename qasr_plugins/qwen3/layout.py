"""Recognise a Qwen3-ASR checkpoint directory: which model (ASR or forced aligner) in which on-disk layout."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from qasr_plugins.errors import StageError

Kind = Literal["asr", "forced_aligner"]
Layout = Literal["native", "original"]


@dataclass(frozen=True)
class CheckpointInfo:
    """What a checkpoint directory holds.

    Attributes:
        path: The directory.
        kind: ``"asr"`` (``Qwen3-ASR-*``) or ``"forced_aligner"`` (``Qwen3-ForcedAligner-*``).
        layout: ``"native"`` (transformers' ``qwen3_asr``, the ``-hf`` repositories) or ``"original"`` (the
            qwen-asr package's layout with a ``thinker_config``).
    """

    path: Path
    kind: Kind
    layout: Layout


def read_config(path: Path) -> dict[str, Any]:
    """The ``config.json`` of a checkpoint directory.

    Raises:
        StageError: ``S404`` when there is none, ``S406`` when it is not JSON.
    """
    config_file = path / "config.json"
    if not config_file.is_file():
        raise StageError("no config.json in the model directory", where=str(path), code="S404",
                         hint="Point `model:` at a Qwen3-ASR checkpoint directory (the folder holding config.json "
                              "and *.safetensors) or at a hub id such as Qwen/Qwen3-ASR-0.6B-hf.")
    try:
        return json.loads(config_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise StageError(f"config.json is not valid JSON ({exc})", where=str(config_file), code="S406") from exc


def inspect_checkpoint(path: Path) -> CheckpointInfo:
    """Detect the kind and layout of the checkpoint in ``path``.

    Raises:
        StageError: ``S406`` when the directory holds no Qwen3-ASR model.
    """
    config = read_config(path)
    thinker = config.get("thinker_config")
    if isinstance(thinker, dict):
        aligner = "classify_num" in thinker or thinker.get("model_type") == "qwen3_forced_aligner"
        return CheckpointInfo(path, "forced_aligner" if aligner else "asr", "original")
    if config.get("model_type") == "qwen3_asr":
        architectures = config.get("architectures") or []
        aligner = "Qwen3ASRForTokenClassification" in architectures
        return CheckpointInfo(path, "forced_aligner" if aligner else "asr", "native")
    raise StageError(f"not a Qwen3-ASR checkpoint (model_type {config.get('model_type')!r})", where=str(path),
                     code="S406", hint="Use a Qwen3-ASR / Qwen3-ForcedAligner checkpoint, original or -hf layout.")
