"""Keeping CTranslate2's OpenMP runtime apart from torch's.

torch puts its OpenMP runtime (``libgomp``) into the process's global symbol scope. The ``ctranslate2`` wheel
(faster-whisper's engine) bundles a copy of its own, but when ``ctranslate2`` is imported *after* torch, its OpenMP
calls bind to torch's runtime instead: its threads then count as torch's and its thread settings become torch's.
With more OpenMP threads than cores, libgomp stops spinning between parallel regions, so for the rest of the
process torch's many small parallel regions (the LSTMs of resemblyzer and of the segmentation model, CAM++'s
convolutions) wait on every wake-up. On two cores the offline pipeline's diarization of 10 minutes took 19 s
instead of 8 s after its first Whisper run (docs/quality.md).

Importing ``ctranslate2`` before torch keeps each library on its own runtime, which ``import qasr_plugins`` does
(:func:`import_ctranslate2_first`). Where torch was imported first, :func:`warn_if_shared` says so when a stage is
about to load CTranslate2.
"""

from __future__ import annotations

import importlib.util
import logging
import sys

log = logging.getLogger(__name__)


def import_ctranslate2_first() -> None:
    """Imports ``ctranslate2`` when it is installed and torch is not imported yet (about 35 ms); else nothing."""
    if "torch" in sys.modules or "ctranslate2" in sys.modules:
        return
    try:
        if importlib.util.find_spec("ctranslate2") is None:
            return
        import ctranslate2  # noqa: F401  (imported for its side effect: binding its own OpenMP runtime)
    except Exception as exc:  # noqa: BLE001  (a broken ctranslate2 must not break qasr; its stage reports it)
        log.debug("ctranslate2 not imported early: %s", exc)


def warn_if_shared(stage: str) -> None:
    """Logs a warning when ``stage`` is about to import ``ctranslate2`` after torch (see the module docstring)."""
    if "ctranslate2" not in sys.modules and "torch" in sys.modules:
        log.warning("%s: ctranslate2 is imported after torch, so both share torch's OpenMP runtime and torch's "
                    "models run up to twice as slow after the first transcription. Import qasr_plugins (or "
                    "ctranslate2) before torch, or set OMP_WAIT_POLICY=ACTIVE before starting Python.", stage)


__all__ = ["import_ctranslate2_first", "warn_if_shared"]
