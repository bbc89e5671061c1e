"""Register a stage class under a name for a block of code, without installing a distribution.

.. code-block:: python

    from qasr_plugins.testing import register_stage

    with register_stage("vad", "loud.vad", LoudVad):
        Pipeline.from_config("my_pipeline.yaml")    # its stages.vad.name: loud.vad resolves to LoudVad

Inside the block the name is visible to :mod:`qasr_plugins.registry` (listings, pipeline validation, loading),
listed with the distribution ``<in-process>``; on leaving it, the registration is undone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from qasr_plugins import registry


@contextmanager
def register_stage(kind: str, name: str, cls: type[Any], *, replace: bool = False) -> Iterator[registry.PluginEntry]:
    """Make ``name`` resolve to ``cls`` for ``kind`` inside the ``with`` block.

    Args:
        kind: The stage kind (``vad``, ``diarization``, ``asr``, ``align``, ``attribution`` or ``writer``).
        name: The name a pipeline config uses for it.
        cls: A subclass of the kind's base class (e.g. :class:`~qasr_plugins.stage.VadStage`).
        replace: Shadow an installed (or outer in-process) stage of that name inside the block.

    Yields:
        The registry entry, whose distribution is :data:`qasr_plugins.registry.IN_PROCESS`.

    Raises:
        PluginError: ``P202`` when ``name`` is already registered and ``replace`` is false; ``P204``/``P205`` for
            a class or kind that does not fit.
    """
    entry = registry.register(kind, name, cls, replace=replace)
    try:
        yield entry
    finally:
        registry.unregister(kind, name)
