"""Model settings that name a local file or directory rather than a hub id.

A hub id has the form ``owner/name``. A setting that starts with ``/``, ``./``, ``../`` or ``~``, ends with a path
separator, holds more than one ``/`` or ends in a checkpoint suffix (``.nemo``, ``.ckpt``, ``.bin``, ``.pt``,
``.safetensors``, ``.yaml``) can only be a local path; when it does not exist, loaders say so instead of passing it
to the hub (whose errors about malformed repository ids would hide the typo).
"""

from __future__ import annotations

import os
from pathlib import Path

_CHECKPOINT_SUFFIXES = (".nemo", ".ckpt", ".bin", ".pt", ".safetensors", ".yaml")


def is_local_path(model: str) -> bool:
    """Whether ``model`` can only be meant as a local path (see the module docstring)."""
    separators = ("/", os.sep)
    return (model.startswith(("/", "./", "../", "~", os.sep)) or model.endswith(separators)
            or model.count("/") > 1 or model.lower().endswith(_CHECKPOINT_SUFFIXES))


def missing_local_path(model: str) -> bool:
    """Whether ``model`` is a local path (:func:`is_local_path`) that does not exist."""
    return is_local_path(model) and not Path(model).expanduser().exists()


__all__ = ["is_local_path", "missing_local_path"]
