"""Qwen3-ASR where NeMo expects an ``ASRModel``: ``transcribe()``, ``.nemo`` files, NeMo's transcription scripts.

    from qasr_plugins.adapters.nemo import Qwen3ASRModel

    model = Qwen3ASRModel.from_pretrained("Qwen/Qwen3-ASR-0.6B-hf")   # hub id, HF cache or directory, either layout
    model.transcribe(["a.wav", "b.wav"], batch_size=8)               # ["text a", "text b"]
    model.transcribe("manifest.json", return_hypotheses=True)        # Hypothesis: .text, .langs (BCP-47)
    timed = Qwen3ASRModel.from_pretrained("Qwen/Qwen3-ASR-0.6B-hf", aligner="Qwen/Qwen3-ForcedAligner-0.6B-hf")
    timed.transcribe(["a.wav"], timestamps=True)[0].timestamp        # {"word": [...], "segment": [...]}
    model.save_to("qwen3-asr-0.6b.nemo")                             # config, tokenizer files and weights
    ASRModel.restore_from("qwen3-asr-0.6b.nemo")                     # once Qwen3ASRModel is imported

Audio comes in as NeMo accepts it — paths, a NeMo manifest (``offset``/``duration`` honoured, relative paths resolved
against the manifest), numpy arrays or tensors at ``cfg.sample_rate`` (16 kHz) — and is read by NeMo's
``AudioSegment`` (``channel_selector``, ``augmentor``). Recognition is qasr's ``qwen3.asr`` engine: long audio is
cut at quiet points, clips are batched by length, the released prompt is used token for token, and the language is
identified unless ``cfg.transcribe.language`` forces one. ``cfg.transcribe`` holds the engine's settings (language,
context, batch limits, ``max_new_tokens`` …); the model's dtype is ``cfg.dtype``.

With an aligner, ``timestamps=True`` runs qasr's ``qwen3.forced_aligner`` on each clip's transcript and puts NeMo's
timestamp dict on the hypotheses: ``word`` and ``segment`` entries with ``start``/``end`` in seconds and
``start_offset``/``end_offset`` in the aligner's 80 ms steps (words in languages the aligner lacks stay untimed and
are left out).

A ``.nemo`` file holds each checkpoint's configuration and tokenizer files as an artifact and the weights (ASR and
aligner) as the model's state dict. NeMo only rebuilds classes under an allow-list of module prefixes; importing
this module adds exactly this class to it, so ``ASRModel.restore_from`` works once ``Qwen3ASRModel`` has been
imported from ``qasr_plugins.adapters.nemo``, and ``Qwen3ASRModel.restore_from`` and NeMo's ``transcribe_speech.py`` (which imports the stored
class) always do.

Without an aligner ``timestamps=True`` is refused (``S415``). Training is not supported (inference only).
"""

from __future__ import annotations

import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import numpy as np
import torch
from nemo.collections.asr.models import ASRModel
from nemo.collections.asr.parts.mixins import ASRTranscriptionMixin
from nemo.collections.asr.parts.preprocessing.segment import AudioSegment
from nemo.collections.asr.parts.utils.rnnt_utils import Hypothesis
from nemo.collections.common.parts.preprocessing.manifest import get_full_path
from nemo.core.classes import common as nemo_common
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader, Dataset

from qasr_plugins.errors import ConfigError, QasrError, StageError
from qasr_plugins.languages import is_spaceless
from qasr_plugins.qwen3.aligner import Qwen3ForcedAligner
from qasr_plugins.qwen3.asr import Qwen3Asr
from qasr_plugins.settings import build_config
from qasr_plugins.stage import AlignInput, AsrInput
from qasr_plugins.types import SAMPLE_RATE, Audio, Span, Transcript

#: Files of a checkpoint directory that are not weights: configuration, tokenizer, processor, chat template.
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".msgpack", ".h5")
#: Engine and aligner settings a ``.nemo`` file carries: the stages' portable settings (loading, devices, local files
#: and fallback stages are the machine's business, see ``StageConfig.LOCAL``).
_ENGINE_SETTINGS = Qwen3Asr.Config.portable_settings()
_ALIGNER_SETTINGS = Qwen3ForcedAligner.Config.portable_settings()


#: Models :meth:`Qwen3ASRModel.from_pretrained` has loaded, handed to ``__init__`` (whose signature NeMo fixes) so that
#: it does not build empty ones only to replace them.
_PRELOADED: ContextVar[dict[str, tuple[Any, Any]] | None] = ContextVar("qasr_nemo_preloaded", default=None)


class Qwen3ASRModel(ASRModel, ASRTranscriptionMixin):
    """Qwen3-ASR (0.6B / 1.7B) as a NeMo ``ASRModel``: language identification and recognition, and word/segment
    timestamps when a Qwen3-ForcedAligner is attached; inference only.

    Args:
        cfg: ``sample_rate``, ``checkpoint_files`` (a tar of the checkpoint's non-weight files), ``source`` (where
            it came from), ``dtype``, ``transcribe`` (engine settings) and, with an aligner, ``aligner``
            (``checkpoint_files``, ``source``, ``settings``). Build one with :meth:`from_pretrained`.
        trainer: Unused (NeMo passes one to every model).
    """

    def __init__(self, cfg: DictConfig, trainer: Any = None) -> None:
        from transformers import Qwen3ASRForConditionalGeneration, Qwen3ASRForTokenClassification

        super().__init__(cfg=cfg, trainer=trainer)
        preloaded = _PRELOADED.get() or {}  # from_pretrained's loaded models; a restore builds empty ones
        files = self.register_artifact("checkpoint_files", cfg.checkpoint_files)
        network, processor = preloaded.get("asr") or _empty_network(files, Qwen3ASRForConditionalGeneration,
                                                                    cfg.dtype)
        self.model = network
        self.decoding = None  # read by NeMo's transcribe_speech.py; Qwen3-ASR decodes greedily
        settings = OmegaConf.to_container(cfg.transcribe, resolve=True) if "transcribe" in cfg else {}
        self._engine = Qwen3Asr(build_config(Qwen3Asr, {"model": str(cfg.source), "dtype": cfg.dtype, **settings},
                                             "transcribe", "qwen3.asr"))
        self._engine.attach(self.model, processor)
        self._aligner: Qwen3ForcedAligner | None = None
        self._timestamps = False
        if cfg.get("aligner"):
            files = self.register_artifact("aligner.checkpoint_files", cfg.aligner.checkpoint_files)
            network, processor = preloaded.get("aligner") or _empty_network(files, Qwen3ASRForTokenClassification,
                                                                            cfg.dtype)
            self.aligner_model = network
            settings = OmegaConf.to_container(cfg.aligner.settings, resolve=True) if cfg.aligner.get("settings") \
                else {}
            self._aligner = Qwen3ForcedAligner(build_config(
                Qwen3ForcedAligner, {"model": str(cfg.aligner.source), "dtype": cfg.dtype, **settings},
                "aligner.settings", "qwen3.forced_aligner"))
            self._aligner.attach(self.aligner_model, processor)

    @classmethod
    def from_pretrained(cls, model_name: str, *, aligner: str | None = None,
                        aligner_settings: Mapping[str, Any] | None = None, revision: str | None = None,
                        cache_dir: str | None = None, dtype: str = "float32", device: str = "cpu",
                        map_location: Any = None, **settings: Any) -> Qwen3ASRModel:
        """Load a Qwen3-ASR checkpoint (hub id, Hugging Face cache or local directory; native ``-hf`` or original
        layout), optionally with a Qwen3-ForcedAligner for timestamps; or restore a ``.nemo`` file.

        Args:
            model_name: ``Qwen/Qwen3-ASR-0.6B-hf``, ``Qwen/Qwen3-ASR-1.7B-hf``, a directory, or a ``.nemo`` path.
            aligner: ``Qwen/Qwen3-ForcedAligner-0.6B-hf`` or a directory: ``transcribe(timestamps=True)`` then gives
                word and segment timestamps (in its 11 languages; other words stay untimed).
            aligner_settings: The aligner's settings (``max_window``, ``batch_size``, ``repair`` …).
            revision: Hub revision (of the ASR model).
            cache_dir: Hugging Face cache directory.
            dtype: ``float32`` or ``bfloat16``.
            device: Where the model runs (``map_location`` is accepted as NeMo's name for it).
            **settings: Engine settings (``language``, ``context``, ``batch_size``, ``max_new_tokens`` …).

        Raises:
            StageError: A checkpoint cannot be found or read (``S404``–``S406``).
            ConfigError: ``C102`` an unknown setting; ``C103`` (in :class:`ConfigErrors`) a bad value.
        """
        if str(model_name).endswith(".nemo"):
            return cls.restore_from(str(model_name), map_location=map_location or device)  # type: ignore[return-value]
        from qasr_plugins.qwen3.loading import load_model

        device = str(map_location or device)
        engine = _checked(Qwen3Asr, _ENGINE_SETTINGS, {"model": model_name, "dtype": dtype}, settings, "",
                          "qwen3.asr")
        scratch = tempfile.TemporaryDirectory(prefix="qasr-nemo-")
        cfg = {"sample_rate": SAMPLE_RATE, "source": model_name, "dtype": dtype,
               "transcribe": {name: getattr(engine, name) for name in _ENGINE_SETTINGS}}
        preloaded: dict[str, tuple[Any, Any]] = {}
        timing = None if aligner is None else _checked(
            Qwen3ForcedAligner, _ALIGNER_SETTINGS, {"model": aligner, "dtype": dtype}, dict(aligner_settings or {}),
            "aligner_settings", "qwen3.forced_aligner")
        loaded = load_model(model_name, kind="asr", revision=revision, cache_dir=cache_dir, dtype=dtype, device=device)
        cfg["checkpoint_files"] = _pack_non_weights(loaded.checkpoint, Path(scratch.name) / "checkpoint_files.tar")
        preloaded["asr"] = (loaded.model, loaded.processor)
        if aligner is not None:
            try:
                timer = load_model(aligner, kind="forced_aligner", cache_dir=cache_dir, dtype=dtype, device=device)
            except QasrError as exc:
                raise exc.replace(where="aligner") from exc
            cfg["aligner"] = {"source": aligner, "checkpoint_files": _pack_non_weights(
                timer.checkpoint, Path(scratch.name) / "aligner_files.tar"),
                "settings": {name: getattr(timing, name) for name in _ALIGNER_SETTINGS}}
            preloaded["aligner"] = (timer.model, timer.processor)
        token = _PRELOADED.set(preloaded)
        try:
            instance = cls(OmegaConf.create(cfg))
        finally:
            _PRELOADED.reset(token)
        instance._scratch = scratch  # the artifacts must outlive __init__ until save_to copies them
        return instance

    @classmethod
    def from_config_dict(cls, config: Any, trainer: Any = None) -> Qwen3ASRModel:
        """Build from a stored config (what ``restore_from`` does), independent of NeMo's target allow-list."""
        return cls(cfg=config if isinstance(config, DictConfig) else OmegaConf.create(config), trainer=trainer)

    @classmethod
    def list_available_models(cls) -> list[Any]:
        """No NGC entries: use a Qwen hub id or directory with :meth:`from_pretrained`."""
        return []

    def setup_training_data(self, train_data_config: Any) -> None:
        raise StageError("Qwen3ASRModel is inference only.", where="train_ds", code="S416",
                         hint="Fine-tune Qwen3-ASR with transformers; convert the result with from_pretrained.")

    def setup_validation_data(self, val_data_config: Any) -> None:
        raise StageError("Qwen3ASRModel is inference only.", where="validation_ds", code="S416",
                         hint="Evaluate transcripts with `qasr eval` or NeMo's speech_to_text_eval.py.")

    # ---- NeMo's transcription hooks -------------------------------------------------------------------------

    def _transcribe_on_begin(self, audio: Any, trcfg: Any) -> None:
        self._timestamps = bool(getattr(trcfg, "timestamps", None))
        if self._timestamps and self._aligner is None:
            raise StageError("this Qwen3-ASR model has no aligner, so it gives no timestamps.",
                             where="transcribe.timestamps", code="S415",
                             hint="Load it with from_pretrained(..., aligner='Qwen/Qwen3-ForcedAligner-0.6B-hf'), "
                                  "or transcribe without timestamps and align with `qasr align`.")
        super()._transcribe_on_begin(audio, trcfg)
        self._engine.config = self._engine.config.model_copy(update={"batch_size": trcfg.batch_size})

    def _transcribe_input_manifest_processing(self, audio_files: list[Any], temp_dir: str,
                                              trcfg: Any) -> dict[str, Any]:
        manifest = getattr(trcfg._internal, "manifest_filepath", None)
        items = []
        for entry in audio_files:
            item = dict(entry) if isinstance(entry, dict) else {"audio_filepath": str(entry)}
            if manifest:
                item["audio_filepath"] = get_full_path(item["audio_filepath"], manifest_file=manifest)
            items.append(item)
        return {"items": items, "batch_size": trcfg.batch_size, "num_workers": trcfg.num_workers or 0,
                "channel_selector": trcfg.channel_selector, "augmentor": trcfg.augmentor}

    def _setup_transcribe_dataloader(self, config: dict[str, Any]) -> DataLoader:
        clips = _Clips(config["items"], int(self.cfg.sample_rate), config.get("channel_selector"),
                       config.get("augmentor"))
        return DataLoader(clips, batch_size=config["batch_size"], num_workers=config.get("num_workers") or 0,
                          collate_fn=_as_list)

    def _setup_transcribe_tensor_dataloader(self, config: dict[str, Any], trcfg: Any) -> DataLoader:
        arrays = [torch.as_tensor(t).detach().float().cpu().numpy().reshape(-1) for t in config["audio_tensors"]]
        return self._setup_transcribe_dataloader({**config, "items": arrays, "num_workers": 0})

    def _transcribe_forward(self, batch: list[np.ndarray], trcfg: Any) -> list[Transcript]:
        clips = [Audio(f"clip-{index}", waveform) for index, waveform in enumerate(batch)]
        transcripts = self._engine.process([AsrInput(clip) for clip in clips])
        if self._timestamps and self._aligner is not None:
            transcripts = self._aligner.process([AlignInput(clip, transcript)
                                                 for clip, transcript in zip(clips, transcripts, strict=True)])
        return transcripts

    def _transcribe_output_processing(self, outputs: list[Transcript], trcfg: Any) -> list[str] | list[Hypothesis]:
        if not trcfg.return_hypotheses and not self._timestamps:  # timestamps come on hypotheses, as in NeMo
            return [transcript_text(t) for t in outputs]
        hypotheses = []
        for transcript in outputs:
            hypothesis = Hypothesis(score=0.0, y_sequence=[], text=transcript_text(transcript))
            hypothesis.langs = ",".join(transcript.languages) or None
            hypothesis.langs_chars = None
            if self._timestamps:
                hypothesis.timestamp = nemo_timestamps(transcript, self.frame_seconds)
            hypotheses.append(hypothesis)
        return hypotheses

    @property
    def frame_seconds(self) -> float:
        """The aligner's timestamp step (80 ms): the unit of NeMo's ``start_offset`` / ``end_offset``."""
        if self._aligner is None:
            raise StageError("no aligner attached.", where="aligner", code="S415",
                             hint="Load with from_pretrained(..., aligner=...).")
        return self._aligner.backend.step_ms / 1000.0


def nemo_timestamps(transcript: Transcript, frame: float) -> dict[str, list[dict[str, Any]]]:
    """NeMo's timestamp dict (``word``, ``segment``, ``char``): seconds and ``frame``-sized offsets; untimed words
    are left out."""
    def entry(key: str, text: str, span: Span) -> dict[str, Any]:
        return {key: text, "start_offset": round(span.start / frame), "end_offset": round(span.end / frame),
                "start": round(span.start, 3), "end": round(span.end, 3)}

    words = [entry("word", w.text, w.span) for w in transcript.words() if w.span is not None]
    segments = [entry("segment", s.text.strip(), s.span) for s in transcript.segments if s.text.strip()]
    return {"word": words, "segment": segments, "char": []}


def transcript_text(transcript: Transcript) -> str:
    """The clip's text: its pieces joined by a space, or directly in languages written without spaces."""
    text = ""
    for segment in transcript.segments:
        piece = segment.text.strip()
        if not piece:
            continue
        spaceless = is_spaceless(segment.language)
        text += piece if not text or spaceless else " " + piece
    return text


class _Clips(Dataset):
    """Clips as float32 waveforms at ``sample_rate``: arrays as given, manifest items read by NeMo."""

    def __init__(self, items: Sequence[Any], sample_rate: int, channel_selector: Any = None,
                 augmentor: Any = None) -> None:
        self.items, self.sample_rate = list(items), sample_rate
        self.channel_selector, self.augmentor = channel_selector, augmentor

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> np.ndarray:
        item = self.items[index]
        if isinstance(item, np.ndarray):
            return item.astype(np.float32, copy=False)
        segment = AudioSegment.from_file(item["audio_filepath"], target_sr=self.sample_rate,
                                         offset=float(item.get("offset") or 0.0),
                                         duration=float(item.get("duration") or 0.0),
                                         channel_selector=self.channel_selector)
        if self.augmentor is not None:
            self.augmentor.perturb(segment)
        return np.asarray(segment.samples, dtype=np.float32)


def _as_list(batch: list[np.ndarray]) -> list[np.ndarray]:
    return list(batch)


def _pack_non_weights(checkpoint: Path, target: Path) -> str:
    """Tar the checkpoint's files other than weights into ``target``; its path."""
    with tarfile.open(target, "w") as archive:
        for file in sorted(checkpoint.iterdir()):
            if file.is_file() and not file.name.endswith((*_WEIGHT_SUFFIXES, ".index.json")):
                archive.add(file, arcname=file.name)
    return str(target)


def _empty_network(files: str, model_class: Any, dtype: str) -> tuple[Any, Any]:
    """A model of ``model_class`` with uninitialised weights (the checkpoint's or the ``.nemo`` state dict come
    next) and its processor, from a tar of the checkpoint's non-weight files."""
    from transformers import AutoConfig, AutoProcessor, GenerationConfig
    from transformers.initialization import no_init_weights

    with tempfile.TemporaryDirectory() as scratch:  # artifacts live only while a restore runs
        with tarfile.open(files) as archive:
            archive.extractall(scratch, filter="data")
        config = AutoConfig.from_pretrained(scratch)
        processor = AutoProcessor.from_pretrained(scratch)
        generation = (GenerationConfig.from_pretrained(scratch)
                      if (Path(scratch) / "generation_config.json").is_file() else None)
    with no_init_weights():
        network = model_class._from_config(config, dtype=getattr(torch, dtype))
    if generation is not None:
        network.generation_config = generation
    return network.eval(), processor


def _checked(stage: type, allowed: Sequence[str], fixed: Mapping[str, Any], settings: Mapping[str, Any],
             where: str, owner: str) -> Any:
    """``stage``'s validated config from ``settings`` (only ``allowed`` keys) over ``fixed``, before any loading."""
    unknown = sorted(set(settings) - set(allowed))
    if unknown:
        raise ConfigError(f"unknown settings: {', '.join(unknown)}", where=where or "from_pretrained", code="C102",
                          hint="Known: " + ", ".join(allowed) + ".")
    return build_config(stage, {**fixed, **settings}, where or "from_pretrained", owner)


# The public name, recorded as the target of every .nemo file this class saves (and by files saved before this module
# moved into its package): restoring imports the package, whose ``__getattr__`` hands out this class.
Qwen3ASRModel.__module__ = "qasr_plugins.adapters.nemo"
_TARGET = f"{Qwen3ASRModel.__module__}.{Qwen3ASRModel.__qualname__}"
if _TARGET not in nemo_common.ALLOWED_TARGET_PREFIXES:
    nemo_common.ALLOWED_TARGET_PREFIXES.append(_TARGET)

__all__ = ["Qwen3ASRModel", "nemo_timestamps", "transcript_text"]
