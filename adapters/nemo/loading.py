"""Load a NeMo model for a stage: a ``.nemo`` file, or a pretrained name (NGC or the Hugging Face hub)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qasr_plugins.errors import StageError


def load_nemo_model(model: str, *, device: str, stage: str, expected: type) -> Any:
    """The model in eval mode on ``device``.

    Args:
        model: A ``.nemo`` path or a pretrained name (``nvidia/...`` on the hub, or an NGC name).
        device: torch device.
        stage: The stage's registered name (named in errors).
        expected: The NeMo class the stage runs; pretrained names resolve through it.

    Raises:
        StageError: ``S404`` when the model cannot be found or loaded, ``S405`` when it is another kind of model.
    """
    import torch
    from nemo.collections.asr.models import ASRModel

    try:
        if model.endswith(".nemo"):
            if not Path(model).is_file():
                raise FileNotFoundError(model)
            _import_own_target(model)
            loaded = ASRModel.restore_from(model, map_location=torch.device(device))  # the stored class
        else:
            loaded = expected.from_pretrained(model, map_location=torch.device(device))
    except Exception as exc:
        raise StageError(f"cannot load NeMo model {model!r} ({type(exc).__name__}: {exc}).".splitlines()[0],
                         where="model", code="S404",
                         hint="Point 'model' at a local .nemo file, or allow hub access.") from exc
    if not isinstance(loaded, expected):
        raise StageError(f"{model!r} is a {type(loaded).__name__}, not a {expected.__name__}.", where="model",
                         code="S405", hint=f"Use a {expected.__name__} checkpoint for {stage}.")
    return loaded.eval()


def _import_own_target(path: str) -> None:
    """Import the stored class when it is one of qasr's (e.g. ``Qwen3ASRModel``): importing it adds it to NeMo's
    allow-list of classes a ``.nemo`` file may name. Other classes are left to NeMo's own checks."""
    import importlib

    from nemo.collections.asr.models import ASRModel

    target = str(ASRModel.restore_from(path, return_config=True).get("target", ""))
    if target.startswith("qasr_plugins."):
        module, _, name = target.rpartition(".")
        getattr(importlib.import_module(module), name)


__all__ = ["load_nemo_model"]
