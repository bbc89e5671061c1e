"""What a pyannote pipeline may run before the user opts in (``trust_checkpoint: true``).

``Pipeline.from_pretrained`` instantiates the classes its ``config.yaml`` names and unpickles every model
checkpoint with ``weights_only=False``. Without the opt-in, :func:`checked_config` reads the config first and accepts
only pyannote.audio's own classes (``pipeline.name`` a ``pyannote.audio`` pipeline, preprocessors from
``pyannote.audio``, no SpeechBrain embedding, whose ``hyperparams.yaml`` instantiates any class); the local
checkpoints it names must load with torch's weights-only unpickler (pyannote's ``Specifications`` allowed) and
name a ``pyannote.audio`` model class. :func:`loading` then makes every ``torch.load`` weights-only while pyannote
loads, which covers the checkpoints it fetches from the hub.
"""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import yaml

from qasr_plugins.errors import StageError
from qasr_plugins.trust import torch_loads, untrusted, weights_only_load

_OWN = "pyannote.audio"
_MODEL_FILE = "pytorch_model.bin"


def _own(module: str) -> bool:
    return module == _OWN or module.startswith(_OWN + ".")


def allowed_classes() -> list[type]:
    """The classes pyannote's checkpoints pickle besides tensors: its task specifications."""
    from pyannote.audio.core.task import Problem, Resolution, Specifications

    return [Specifications, Problem, Resolution]


def loading(*, trusted: bool) -> AbstractContextManager[None]:
    """Where ``Pipeline.from_pretrained`` runs: weights-only loads unless ``trusted``."""
    return torch_loads(trusted=True) if trusted else torch_loads(trusted=False, allowed=allowed_classes())


def config_file(checkpoint: str, *, revision: str | None, cache_dir: str | None,
                token: str | None) -> tuple[Path, Path | None]:
    """``config.yaml`` of ``checkpoint`` (a file, a directory, or a hub id, downloaded as pyannote does) and the
    local directory its ``$model/…`` entries point into (``None`` for a hub pipeline)."""
    if os.path.isdir(checkpoint):
        return Path(checkpoint) / "config.yaml", Path(checkpoint)
    if os.path.isfile(checkpoint):
        return Path(checkpoint), Path(checkpoint).parent
    from huggingface_hub import hf_hub_download

    return Path(hf_hub_download(checkpoint, "config.yaml", revision=revision, cache_dir=cache_dir,
                                token=token)), None


def checked_config(path: Path, model_dir: Path | None) -> None:
    """Raise ``S407`` when the pipeline config at ``path`` names anything but pyannote.audio's own classes, or a
    local checkpoint of it could run code.

    Raises:
        StageError: ``S407`` (where ``checkpoint``) naming the entry or file; ``S404`` when there is no config.
    """
    if not path.is_file():
        raise StageError(f"no pipeline config at {str(path)!r}", where="checkpoint", code="S404",
                         hint="Point 'checkpoint' at a directory holding config.yaml, or at the file itself.")
    config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    pipeline = config.get("pipeline") or {}
    _check_class(pipeline.get("name"), "pipeline.name", default="pyannote.pipeline.blocks", pipeline=True)
    for key, preprocessor in (config.get("preprocessors") or {}).items():
        if isinstance(preprocessor, Mapping):
            _check_class(preprocessor.get("name"), f"preprocessors.{key}.name", default=_OWN, pipeline=False)
    for key, value in _strings(pipeline.get("params") or {}, "pipeline.params"):
        if "speechbrain" in value and "pyannote" not in value:
            raise untrusted(f"the pipeline config's {key} ({value!r})", "a SpeechBrain model, whose "
                            "hyperparams.yaml can instantiate any class", where="checkpoint")
        for file in _local_checkpoints(value, model_dir):
            _check_checkpoint(file)


def _check_class(name: Any, key: str, *, default: str, pipeline: bool) -> None:
    """``name`` must resolve (as pyannote resolves it) to a class defined in pyannote.audio."""
    text = str(name or "")
    module_name, _, class_name = text.rpartition(".")
    module_name = module_name or default
    target: Any = None
    if _own(module_name):
        try:
            target = getattr(importlib.import_module(module_name), class_name, None)
        except ImportError:
            target = None
    if pipeline and inspect.isclass(target):
        from pyannote.audio import Pipeline

        target = target if issubclass(target, Pipeline) else None
    if not (inspect.isclass(target) and _own(target.__module__)):
        raise untrusted(f"the pipeline config's {key} ({text!r})", "not a class of pyannote.audio",
                        where="checkpoint")


def _strings(value: Any, key: str) -> Iterator[tuple[str, str]]:
    """Every string in a nested mapping, with its dotted key."""
    if isinstance(value, str):
        yield key, value
    elif isinstance(value, Mapping):
        for name, item in value.items():
            yield from _strings(item, f"{key}.{name}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{key}.{index}")


def _local_checkpoints(value: str, model_dir: Path | None) -> list[Path]:
    """The local model checkpoint a config string names: ``$model/<sub>`` in a local pipeline directory, or a
    checkpoint file or model directory path (as ``Model.from_pretrained`` reads them)."""
    if value.startswith("$model/"):
        if model_dir is None:
            return []
        path = model_dir / value.removeprefix("$model/").split("@")[0]
    else:
        path = Path(value)
    if path.is_dir():
        path = path / _MODEL_FILE
    return [path] if path.is_file() and path.suffix not in (".npz", ".yaml", ".yml") else []


def _check_checkpoint(file: Path) -> None:
    checkpoint = weights_only_load(file, f"the pyannote checkpoint {str(file)!r}", allowed=allowed_classes(),
                                   where="checkpoint")
    metadata = checkpoint.get("pyannote.audio") if isinstance(checkpoint, Mapping) else None
    architecture = (metadata or {}).get("architecture") or {}
    module = str(architecture.get("module", ""))
    if not _own(module):
        raise untrusted(f"the pyannote checkpoint {str(file)!r}",
                        f"its model class comes from {module or 'an unnamed module'!r}, not pyannote.audio",
                        where="checkpoint")


__all__ = ["allowed_classes", "checked_config", "config_file", "loading"]
