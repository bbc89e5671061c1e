"""``nemo.asr``: any NeMo ASR model (CTC, RNNT/TDT, hybrid, AED) as an ASR stage, with word timestamps.

``model`` is a ``.nemo`` file or a pretrained name that ``ASRModel.from_pretrained`` resolves (NGC or the Hugging
Face hub, e.g. ``nvidia/parakeet-tdt-0.6b-v2``). NeMo is called with keyword arguments only: the positional order of
``transcribe`` changed between NeMo 2.6 and 3.0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field

from qasr_plugins.stage import LANGUAGE, TEXT, WORD_TIMESTAMPS, WORDS, AsrInput, AsrStage, StageConfig
from qasr_plugins.asr.pieces import Piece, plan_pieces
from qasr_plugins.types import Span, Transcript, TranscriptSegment, Word


class NemoAsrConfig(StageConfig):
    model: str = Field("nvidia/parakeet-tdt-0.6b-v2", description="A .nemo file or a pretrained model name.")
    batch_size: int = Field(8, ge=1)
    timestamps: bool = Field(True, description="Ask the model for word timestamps.")
    language: str | None = Field(None, description="BCP-47 tag to put on segments (NeMo models do no LID).")
    device: str = "cpu"
    min_piece: float = Field(0.1, ge=0, description="Skip regions shorter than this (s).")


class NemoAsr(AsrStage):
    """Transcribes VAD regions, diarization turns or whole files in batches across files."""

    Config = NemoAsrConfig

    @classmethod
    def provides(cls, config: StageConfig) -> frozenset[str]:
        caps = {TEXT, WORDS} | ({WORD_TIMESTAMPS} if config.timestamps else set())
        return frozenset(caps | ({LANGUAGE} if config.language else set()))

    def load(self) -> None:
        from nemo.collections.asr.models import ASRModel

        from qasr_plugins.adapters.nemo.loading import load_nemo_model

        cfg: NemoAsrConfig = self.config  # type: ignore[assignment]
        self._model: Any = load_nemo_model(cfg.model, device=cfg.device, stage="nemo.asr", expected=ASRModel)

    def process(self, batch: Sequence[AsrInput]) -> list[Transcript]:
        cfg: NemoAsrConfig = self.config  # type: ignore[assignment]
        plans = [plan_pieces(item, cfg.min_piece) for item in batch]
        pieces = [piece for plan in plans for piece in plan]
        hypotheses = self._transcribe([p.audio.waveform for p in pieces]) if pieces else []
        segments = iter(self._segment(p, h) for p, h in zip(pieces, hypotheses, strict=True))
        return [Transcript(item.audio.uri, tuple(next(segments) for _ in plan)) for item, plan in zip(batch, plans,
                                                                                                      strict=True)]

    def _transcribe(self, waveforms: list[Any]) -> list[Any]:
        cfg: NemoAsrConfig = self.config  # type: ignore[assignment]
        result = self._model.transcribe(audio=waveforms, batch_size=cfg.batch_size, timestamps=cfg.timestamps,
                                        return_hypotheses=True, verbose=False)
        return list(result[0] if isinstance(result, tuple) else result)

    def _segment(self, piece: Piece, hypothesis: Any) -> TranscriptSegment:
        text = hypothesis.text if isinstance(hypothesis.text, str) else ""
        start, end = piece.span.start, piece.span.end
        words: list[Word] = []
        stamps = (getattr(hypothesis, "timestamp", None) or {}).get("word") or []
        for stamp in stamps:
            w_start = min(end, start + float(stamp["start"]))
            w_end = min(end, max(w_start, start + float(stamp["end"])))
            words.append(Word(str(stamp["word"]), Span(w_start, w_end)))
        if not words:
            words = [Word(token) for token in text.split()]
        return TranscriptSegment(piece.span, text.strip(), self.config.language, None, speaker=piece.speaker,
                                 words=tuple(words))
