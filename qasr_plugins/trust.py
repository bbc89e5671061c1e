"""Trusting checkpoints: which model files load without the user's opt-in, and the opt-in itself.

Unpickling a pickle-based checkpoint (``.bin``, ``.ckpt``, ``.pt``, the weights inside a ``.nemo``) can run any
code the file names. qasr loads one without a question only when torch's restricted unpickler accepts it
(``torch.load(..., weights_only=True)``: tensors and plain containers, no other calls); safetensors files hold no
code at all. Anything else stops with ``S407`` unless the stage has ``trust_checkpoint: true``;
``qasr run --trust-checkpoints`` sets it on every stage of the pipeline that has it (:func:`trust_overrides`).

Loaders check the files they can see first (:func:`weights_only_load`, :func:`check_pickled_weights`) and run the
library under torch's own switch (:func:`torch_loads`), which also covers what the library fetches itself.
"""

from __future__ import annotations

import os
import pickle
import re
import threading
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from pydantic import Field

from qasr_plugins.errors import StageError

if TYPE_CHECKING:
    from qasr_plugins.graph import PipelineSpec

#: The stage setting that opts in.
TRUST_SETTING = "trust_checkpoint"
_FORCE_SAFE = "TORCH_FORCE_WEIGHTS_ONLY_LOAD"
_FORCE_UNSAFE = "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"
_ENVIRONMENT = threading.RLock()


def trust_field() -> Any:
    """The ``trust_checkpoint`` field of a stage's settings (off by default)."""
    return Field(False, description="Load checkpoints that could run code when loaded (pickle-based weights "
                                    "torch's weights-only loader refuses); only for files from a source you trust.")


def untrusted(what: str, reason: str, *, where: str = "model") -> StageError:
    """``S407``: ``what`` could run code when loaded, for ``reason``; the hint says how to opt in and why."""
    return StageError(f"{what} could run code when loaded ({reason}); not loaded without opt-in.", where=where,
                      code="S407",
                      hint=f"Loading it runs whatever code it names. If you trust its source, set "
                           f"`{TRUST_SETTING}: true` on this stage (e.g. stages.<key>.{TRUST_SETTING}=true) or pass "
                           "`qasr run --trust-checkpoints`; otherwise use a safetensors (or weights-only) checkpoint.")


def refusal_reason(error: BaseException) -> str:
    """What torch's weights-only unpickler refused, in a few words (``Unsupported global: GLOBAL posix.system``)."""
    match = re.search(r"WeightsUnpickler error: (.+?)(?: was not an allowed global|\.?\n|$)", str(error))
    return match.group(1).strip() if match else "torch's weights-only loader refused it"


def is_refusal(error: BaseException) -> bool:
    """Whether ``error`` (or an error it was raised from) is torch's weights-only unpickler refusing a file."""
    while error is not None:
        if isinstance(error, pickle.UnpicklingError):
            return True
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    return False


def weights_only_load(source: str | Path | IO[bytes], what: str, *, allowed: Sequence[type] = (),
                      where: str = "model") -> Any:
    """``source`` loaded by torch's weights-only unpickler (also accepting the classes in ``allowed``).

    Raises:
        StageError: ``S407`` when the unpickler refuses it: the file names something it could call.
    """
    import torch

    mmap = isinstance(source, str | Path) and zipfile.is_zipfile(source)
    try:
        with torch.serialization.safe_globals(list(allowed)):
            return torch.load(source, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as exc:
        raise untrusted(what, refusal_reason(exc), where=where) from exc


def pickled_weights(directory: Path) -> list[Path]:
    """The pickle-based weight files transformers would load from a checkpoint ``directory``: its
    ``pytorch_model*.bin`` when it has no ``*.safetensors`` (transformers prefers those)."""
    if any(directory.glob("*.safetensors")):
        return []
    return sorted(directory.glob("pytorch_model*.bin"))


def check_pickled_weights(directory: Path, *, trusted: bool, where: str = "model") -> None:
    """Raise ``S407`` unless ``trusted`` or every pickle-based weight file of ``directory`` is weights-only."""
    if not trusted:
        for file in pickled_weights(directory):
            weights_only_load(file, f"the weights {str(file)!r}", where=where)


def pretrained(model_class: Any, name: str, *, trusted: bool, **options: Any) -> Any:
    """``model_class.from_pretrained(name, **options)``, a transformers model.

    transformers 5 loads ``pytorch_model*.bin`` weights weights-only whatever it is asked. With the opt-in
    (``trusted``) the pickled weights of a local directory are unpickled here instead and handed over as a state
    dict, with the directory's config and generation config.
    """
    directory = Path(name)
    weights: dict[str, Any] = {}
    if trusted and directory.is_dir():
        import torch

        for file in pickled_weights(directory):
            weights.update(torch.load(file, map_location="cpu", weights_only=False, mmap=zipfile.is_zipfile(file)))
    with _no_progress_bars():  # a stage loads inside qasr's own progress display
        if not weights:
            return model_class.from_pretrained(name, **options)
        from transformers import AutoConfig, GenerationConfig

        model = model_class.from_pretrained(None, config=AutoConfig.from_pretrained(name), state_dict=weights,
                                            **options)
    if (directory / "generation_config.json").is_file():
        model.generation_config = GenerationConfig.from_pretrained(name)
    return model


@contextmanager
def _no_progress_bars() -> Iterator[None]:
    """transformers' progress bars (\"Loading weights\") off, as the caller had them afterwards."""
    from transformers.utils import logging

    enabled = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            logging.enable_progress_bar()


@contextmanager
def torch_loads(*, trusted: bool, allowed: Sequence[type] = ()) -> Iterator[None]:
    """Run a library's loading code under torch's own switch for ``weights_only``.

    Not ``trusted``: every ``torch.load`` inside is weights-only (``TORCH_FORCE_WEIGHTS_ONLY_LOAD``), even where
    the library passes ``weights_only=False``; the classes in ``allowed`` are accepted too. ``trusted``: loads that
    leave ``weights_only`` unset (NeMo's ``restore_from``) unpickle fully (``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``).
    The environment is restored afterwards; a lock keeps concurrent loads from mixing the two.
    """
    import torch

    chosen, other = (_FORCE_UNSAFE, _FORCE_SAFE) if trusted else (_FORCE_SAFE, _FORCE_UNSAFE)
    with _ENVIRONMENT:
        saved = {name: os.environ.get(name) for name in (chosen, other)}
        os.environ[chosen] = "1"
        os.environ.pop(other, None)
        try:
            with torch.serialization.safe_globals(list(allowed)):
                yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def trust_overrides(spec: PipelineSpec) -> list[str]:
    """Overrides setting ``trust_checkpoint=true`` on every node of ``spec`` whose stage has the setting, and on
    its aligner fallback (``fallback_settings``) when the fallback stage has it (``qasr run --trust-checkpoints``).
    """
    from qasr_plugins import registry

    overrides = []
    for node in spec.nodes:
        if TRUST_SETTING in node.stage_class.Config.model_fields:
            overrides.append(f"{node.settings_path}.{TRUST_SETTING}=true")
        fallback = getattr(node.config, "fallback", None)
        if fallback and TRUST_SETTING in registry.load("align", fallback).Config.model_fields:
            overrides.append(f"{node.settings_path}.fallback_settings.{TRUST_SETTING}=true")
    return overrides


__all__ = ["TRUST_SETTING", "check_pickled_weights", "is_refusal", "pickled_weights", "pretrained",
           "refusal_reason", "torch_loads", "trust_field", "trust_overrides", "untrusted", "weights_only_load"]
