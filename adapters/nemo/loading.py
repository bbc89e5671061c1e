"""Load a NeMo model for a stage: a ``.nemo`` file, or a pretrained name (NGC or the Hugging Face hub).

A ``.nemo`` file is a tarball whose weights (``model_weights.ckpt``) are a pickle. NeMo 3 restores them with
torch's default, weights-only ``torch.load``, and instantiates only the classes on its allow-list. Without
``trust_checkpoint`` qasr checks every pickle in the tarball with the weights-only loader before NeMo sees it
(:func:`check_nemo_file`) and keeps every load weights-only; with it, NeMo unpickles them fully.
"""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any

from qasr_plugins.errors import QasrError, StageError
from qasr_plugins.trust import is_refusal, refusal_reason, torch_loads, untrusted, weights_only_load

_PICKLED = (".ckpt", ".pt", ".pth", ".bin")


def load_nemo_model(model: str, *, device: str, stage: str, expected: type, trust: bool = False) -> Any:
    """The model in eval mode on ``device``.

    Args:
        model: A ``.nemo`` path or a pretrained name (``nvidia/...`` on the hub, or an NGC name).
        device: torch device.
        stage: The stage's registered name (named in errors).
        expected: The NeMo class the stage runs; pretrained names resolve through it.
        trust: Unpickle weights the weights-only loader refuses (the stage's ``trust_checkpoint``).

    Raises:
        StageError: ``S404`` when the model cannot be found or loaded, ``S405`` when it is another kind of model,
            ``S407`` when its weights could run code and ``trust`` is off.
    """
    import torch

    try:
        if model.endswith(".nemo"):
            loaded = restore_nemo_file(model, device=device, trust=trust)
        else:
            with torch_loads(trusted=trust):
                loaded = expected.from_pretrained(model, map_location=torch.device(device))
    except QasrError:
        raise
    except Exception as exc:
        if is_refusal(exc):
            raise untrusted(f"the NeMo model {model!r}", refusal_reason(exc)) from exc
        raise StageError(f"cannot load NeMo model {model!r} ({type(exc).__name__}: {exc}).".splitlines()[0],
                         where="model", code="S404",
                         hint="Point 'model' at a local .nemo file, or allow hub access.") from exc
    if not isinstance(loaded, expected):
        raise StageError(f"{model!r} is a {type(loaded).__name__}, not a {expected.__name__}.", where="model",
                         code="S405", hint=f"Use a {expected.__name__} checkpoint for {stage}.")
    return loaded.eval()


def restore_nemo_file(path: str, *, device: str, trust: bool) -> Any:
    """The model stored in the ``.nemo`` file at ``path`` (its own class), after :func:`check_nemo_file` unless
    ``trust``.

    Raises:
        FileNotFoundError: There is no such file.
        StageError: ``S407`` when its weights could run code and ``trust`` is off.
    """
    import torch
    from nemo.collections.asr.models import ASRModel

    if not Path(path).is_file():
        raise FileNotFoundError(path)
    if not trust:
        check_nemo_file(path)
    _import_own_target(path)
    with torch_loads(trusted=trust):
        return ASRModel.restore_from(path, map_location=torch.device(device))


def check_nemo_file(path: str, *, where: str = "model") -> None:
    """Load every pickle in the ``.nemo`` tarball at ``path`` with torch's weights-only loader.

    Raises:
        StageError: ``S407`` naming the member the loader refuses.
    """
    with tarfile.open(path, "r:*") as tar:
        for member in tar.getmembers():
            handle = tar.extractfile(member) if member.name.endswith(_PICKLED) else None
            if handle is not None:
                weights_only_load(handle, f"{member.name.removeprefix('./')} in {path!r}", where=where)


def _import_own_target(path: str) -> None:
    """Import the stored class when it is one of qasr's (e.g. ``Qwen3ASRModel``): importing it adds it to NeMo's
    allow-list of classes a ``.nemo`` file may name. Other classes are left to NeMo's own checks."""
    import importlib

    from nemo.collections.asr.models import ASRModel

    target = str(ASRModel.restore_from(path, return_config=True).get("target", ""))
    if target.startswith("qasr_plugins."):
        module, _, name = target.rpartition(".")
        getattr(importlib.import_module(module), name)


__all__ = ["check_nemo_file", "load_nemo_model", "restore_nemo_file"]
