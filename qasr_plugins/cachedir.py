"""Where qasr keeps files it derives and can always make again (converted checkpoints, the stage cache)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """``$QASR_CACHE``, else ``$XDG_CACHE_HOME/qasr``, else ``~/.cache/qasr``."""
    if os.environ.get("QASR_CACHE"):
        return Path(os.environ["QASR_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "qasr"
