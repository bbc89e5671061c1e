"""The base of align stages built on the shared flow: a model backend, the optional fallback stage for languages it
lacks, and one ``process`` for all (:func:`~qasr_plugins.alignment.engine.align_transcript`)."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import ClassVar

from qasr_plugins.alignment.config import AlignerConfig, load_fallback
from qasr_plugins.alignment.engine import AlignerBackend, Fallback, align_transcript
from qasr_plugins.settings import StageConfig
from qasr_plugins.stage import LANGUAGE, TEXT, AlignInput, AlignStage
from qasr_plugins.types import Transcript


class BackendAligner(AlignStage):
    """An align stage whose model is an :class:`~qasr_plugins.alignment.engine.AlignerBackend`: subclasses say how
    to load it (:meth:`load_backend`); segments in languages it lacks go to ``fallback`` when one is set."""

    config: AlignerConfig
    backend: AlignerBackend
    fallback: Fallback | None = None
    #: The model needs each segment's language (unless the ``language`` setting gives it).
    needs_language: ClassVar[bool] = False

    @classmethod
    def requires(cls, config: StageConfig) -> Mapping[str, frozenset[str]]:
        language = cls.needs_language and not getattr(config, "language", None)
        return {"transcript": frozenset({TEXT, LANGUAGE} if language else {TEXT})}

    def load(self) -> None:
        if self.config.threads:
            import torch

            torch.set_num_threads(self.config.threads)
        self.use(self.load_backend())

    @abstractmethod
    def load_backend(self) -> AlignerBackend:
        """Load the model and wrap it as a backend."""

    def use(self, backend: AlignerBackend) -> None:
        """Align with ``backend`` (and load the fallback stage, if any)."""
        self.backend = backend
        self.fallback = load_fallback(self.config.fallback, self.config.fallback_settings)

    def process(self, batch: Sequence[AlignInput]) -> list[Transcript]:
        return [align_transcript(self.backend, item, self.config.flow(), self.fallback) for item in batch]
