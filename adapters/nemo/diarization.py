"""``nemo.diarization``: NeMo's end-to-end Sortformer diarizers (``SortformerEncLabelModel``) as a diarization stage.

``model`` is a ``.nemo`` file or a pretrained name (default ``nvidia/diar_sortformer_4spk-v1``; the streaming v2
models work the same way, ``streaming`` switching their chunked mode for long recordings). The model gives each of
its (up to four) speaker slots an activity probability per frame (80 ms: the preprocessor's hop times the encoder's
subsampling); each slot's probabilities become turns with NeMo's post-processing rules (defaults: those of NeMo's
``diarize``, onset/offset 0.5, no padding or minimum durations — tuned YAMLs from the model cards map one to one onto
the settings). Speakers are named ``SPEAKER_00``… in order of first appearance. Exclusive turns give each frame where
someone speaks to the most probable active speaker. With speech regions wired in, turns are kept inside them.
Recordings are run one at a time (the model normalises loudness over its batch); times are absolute.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import Field

from qasr_plugins.adapters.nemo.frames import FrameRulesConfig, frame_spans
from qasr_plugins.errors import InputError
from qasr_plugins.libraries import Libraries
from qasr_plugins.settings import with_defaults
from qasr_plugins.stage import DiarizationInput, DiarizationStage
from qasr_plugins.trust import trust_field
from qasr_plugins.types import Audio, Diarization, Span, SpeakerTurns, SpeechRegions, Turn

DEFAULT_MODEL = "nvidia/diar_sortformer_4spk-v1"
MIN_AUDIO = 0.1  # shorter input gives the subsampling convolutions too few samples


#: NeMo's ``diarize`` post-processing defaults.
_DiarizeRules = with_defaults(FrameRulesConfig, "DiarizeRules", onset=0.5, offset=0.5, pad_onset=0.0, pad_offset=0.0,
                                          min_duration_on=0.0, min_duration_off=0.0)


class NemoDiarizationConfig(_DiarizeRules):  # type: ignore[misc,valid-type]
    model: str = Field(DEFAULT_MODEL, description="A .nemo file or a pretrained Sortformer name.")
    device: str = Field("cpu", description="torch device.")
    trust_checkpoint: bool = trust_field()
    streaming: bool | None = Field(None, description="Chunked streaming inference (v2 models); null: the model's "
                                                     "own setting.")
    clip_to_speech: bool = Field(True, description="Keep turns inside the wired speech regions.")


class NemoDiarization(DiarizationStage):
    """Sortformer speaker activity per frame, post-processed into regular and exclusive speaker turns."""

    libraries = Libraries("nemo", ("torch", "nemo"))

    config: NemoDiarizationConfig

    def load(self) -> None:
        from nemo.collections.asr.models import SortformerEncLabelModel

        from qasr_plugins.adapters.nemo.loading import load_nemo_model

        cfg = self.config
        model = load_nemo_model(cfg.model, device=cfg.device, stage="nemo.diarization",
                                expected=SortformerEncLabelModel, trust=cfg.trust_checkpoint)
        if cfg.streaming is not None:
            model.streaming_mode = cfg.streaming
        self._model: Any = model
        self._rate = int(model.preprocessor._sample_rate)
        self._frame = float(model.cfg.preprocessor.window_stride) * int(model.cfg.encoder.subsampling_factor)

    @property
    def frame(self) -> float:
        """Seconds per output frame."""
        return self._frame

    def process(self, batch: Sequence[DiarizationInput]) -> list[Diarization]:
        return [self._diarize(item.audio, item.speech) for item in batch]

    def activity(self, audio: Audio) -> np.ndarray:
        """Speaker-slot activity probabilities, ``[frames, slots]``."""
        import torch

        if audio.sample_rate != self._rate:
            raise InputError(f"the diarizer needs {self._rate} Hz audio, got {audio.sample_rate} Hz",
                             where=audio.uri, code="I308",
                             hint="Load it with qasr's audio loader, which resamples to 16 kHz.")
        signal = torch.from_numpy(np.asarray(audio.waveform, dtype=np.float32))[None]
        with torch.inference_mode():
            probabilities = self._model(audio_signal=signal, audio_signal_length=torch.tensor([signal.shape[1]]))
        return probabilities[0].float().cpu().numpy()

    def _diarize(self, audio: Audio, speech: SpeechRegions | None) -> Diarization:
        cfg = self.config
        if audio.duration < MIN_AUDIO:
            return Diarization(SpeakerTurns(audio.uri), SpeakerTurns(audio.uri, (), exclusive=True))
        activity = self.activity(audio)
        slots = [SpeechRegions(audio.uri, tuple(frame_spans(activity[:, slot], self._frame, cfg, origin=audio.offset,
                                                            duration=audio.duration)))
                 for slot in range(activity.shape[1])]
        if speech is not None and cfg.clip_to_speech:
            slots = [spans.crop(speech) for spans in slots]
        order = sorted((spans.regions[0].start, slot) for slot, spans in enumerate(slots) if len(spans))
        names = {slot: f"SPEAKER_{rank:02d}" for rank, (_, slot) in enumerate(order)}
        regular = tuple(Turn(span, names[slot]) for slot, spans in enumerate(slots) for span in spans)
        exclusive = _exclusive(activity, slots, names, self._frame, audio)
        return Diarization(SpeakerTurns(audio.uri, regular), SpeakerTurns(audio.uri, exclusive, exclusive=True))


def _exclusive(activity: np.ndarray, slots: Sequence[SpeechRegions], names: dict[int, str], frame: float,
               audio: Audio) -> tuple[Turn, ...]:
    """Each frame where a turn is active goes to the active slot with the highest probability; runs of frames are
    kept within that slot's turns."""
    count = activity.shape[0]
    centres = audio.offset + (np.arange(count) + 0.5) * frame
    active = np.zeros(activity.shape, dtype=bool)
    for slot, spans in enumerate(slots):
        for span in spans:
            active[(centres >= span.start) & (centres < span.end), slot] = True
    scores = np.where(active, activity, -np.inf)
    best = np.where(active.any(axis=1), scores.argmax(axis=1), -1)
    turns: list[Turn] = []
    start = 0
    for index in range(1, count + 1):
        if index == count or best[index] != best[start]:
            if best[start] >= 0:  # the run, within its speaker's own turns
                slot = int(best[start])
                run = Span(audio.offset + start * frame, audio.offset + index * frame)
                turns.extend(Turn(span, names[slot]) for span in slots[slot].crop(run))
            start = index
    return tuple(turns)


__all__ = ["NemoDiarization", "NemoDiarizationConfig"]
