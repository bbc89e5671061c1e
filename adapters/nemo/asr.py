"""``nemo.asr``: any NeMo ASR model (CTC, RNNT/TDT, hybrid, AED) as an ASR stage, with word timestamps.

``model`` is a ``.nemo`` file or a pretrained name that ``ASRModel.from_pretrained`` resolves (NGC or the Hugging
Face hub, e.g. ``nvidia/parakeet-tdt-0.6b-v2``). NeMo is called with keyword arguments only: the positional order of
``transcribe`` changed between NeMo 2.6 and 3.0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field

from qasr_plugins.asr.backend import AsrLimits, Heard, Language, Piece, PieceResult
from qasr_plugins.asr.chunks import ChunkLimits
from qasr_plugins.asr.flow import transcribe_inputs
from qasr_plugins.libraries import Libraries
from qasr_plugins.stage import LANGUAGE, TEXT, WORD_TIMESTAMPS, WORDS, AsrInput, AsrStage, StageConfig
from qasr_plugins.trust import trust_field
from qasr_plugins.types import Span, Transcript, Word


class NemoAsrConfig(StageConfig):
    model: str = Field("nvidia/parakeet-tdt-0.6b-v2", description="A .nemo file or a pretrained model name.")
    batch_size: int = Field(8, ge=1)
    timestamps: bool = Field(True, description="Ask the model for word timestamps.")
    language: str | None = Field(None, description="BCP-47 tag to put on segments (NeMo models do no LID).")
    device: str = "cpu"
    min_piece: float = Field(0.1, ge=0, le=60, description="Skip regions shorter than this (s).")
    trust_checkpoint: bool = trust_field()


class NemoAsr(AsrStage):
    """Transcribes VAD regions, diarization turns or whole files in batches across files."""

    libraries = Libraries("nemo", ("torch", "nemo"))

    config: NemoAsrConfig

    @classmethod
    def provides(cls, config: StageConfig) -> frozenset[str]:
        caps = {TEXT, WORDS} | ({WORD_TIMESTAMPS} if config.timestamps else set())
        return frozenset(caps | ({LANGUAGE} if config.language else set()))

    def load(self) -> None:
        from nemo.collections.asr.models import ASRModel

        from qasr_plugins.adapters.nemo.loading import load_nemo_model

        cfg = self.config
        self._model: Any = load_nemo_model(cfg.model, device=cfg.device, stage="nemo.asr", expected=ASRModel,
                                           trust=cfg.trust_checkpoint)

    def process(self, batch: Sequence[AsrInput]) -> list[Transcript]:
        return transcribe_inputs(self, batch)

    @property
    def limits(self) -> AsrLimits:
        """Whole regions (no length limit), regions shorter than ``min_piece`` skipped."""
        cfg = self.config
        return AsrLimits(chunks=ChunkLimits(max_seconds=float("inf")), shortest=cfg.min_piece,
                         batch_size=cfg.batch_size)

    def transcribe(self, pieces: Sequence[Piece]) -> list[PieceResult]:
        """One ``ASRModel.transcribe`` call (keyword arguments only) over the pieces' waveforms."""
        cfg = self.config
        result = self._model.transcribe(audio=[p.waveform for p in pieces], batch_size=cfg.batch_size,
                                        timestamps=cfg.timestamps, return_hypotheses=True, verbose=False)
        hypotheses = result[0] if isinstance(result, tuple) else result
        return [self._result(h) for h in hypotheses]

    def _result(self, hypothesis: Any) -> PieceResult:
        """Text and words of one hypothesis; NeMo's word timestamps are already seconds from the piece's start."""
        text = hypothesis.text if isinstance(hypothesis.text, str) else ""
        words: list[Word] = []
        for stamp in (getattr(hypothesis, "timestamp", None) or {}).get("word") or []:
            start = max(0.0, float(stamp["start"]))
            words.append(Word(str(stamp["word"]), Span(start, max(start, float(stamp["end"])))))
        if not words:
            words = [Word(token) for token in text.split()]
        return PieceResult((Heard(text.strip(), words=tuple(words)),), Language(self.config.language))
