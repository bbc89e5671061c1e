"""``ctc.aligner``: forced alignment with any CTC acoustic model through ``torchaudio.functional.forced_align``.

Models: a Hugging Face wav2vec2-style CTC model (hub id or local directory with a CTC tokenizer) or a NeMo CTC
model (a ``.nemo`` file: character vocabulary or subword tokenizer). Text is matched to the model's vocabulary
(case-folded when the vocabulary has a single case); characters it lacks are skipped, and units left with no
token are repaired by interpolation (flagged ``repaired``). It serves languages the Qwen3 aligner does not.
Pickle-based weights load only when torch's weights-only loader accepts them, unless ``trust_checkpoint: true``.
"""

from __future__ import annotations

import itertools
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from qasr_plugins.alignment.config import AlignerConfig
from qasr_plugins.alignment.engine import AlignRequest
from qasr_plugins.alignment.stage import BackendAligner
from qasr_plugins.alignment.text import Unit, split_units
from qasr_plugins.errors import StageError
from qasr_plugins.libraries import Libraries
from qasr_plugins.modelpaths import missing_local_path
from qasr_plugins.trust import check_pickled_weights, is_refusal, pretrained, refusal_reason, trust_field, untrusted
from qasr_plugins.types import Span


class CtcAlignerConfig(AlignerConfig):
    model: str | None = Field(None, validate_default=True,
                              description="Hugging Face CTC model (hub id or directory) or a NeMo CTC .nemo file.")
    word_delimiter: str | None = Field(None, description="Vocabulary token between words (default: '|', else "
                                                         "' ', when the vocabulary has it; none otherwise).")
    trust_checkpoint: bool = trust_field()


    @field_validator("model")
    @classmethod
    def _model_given(cls, value: str | None) -> str:
        if not value:
            raise ValueError("no CTC model set: give a Hugging Face CTC model (hub id or directory, e.g. "
                             "facebook/wav2vec2-base-960h) or a NeMo CTC .nemo file")
        return value


class CtcAligner(BackendAligner):
    """Times each word by CTC forced alignment (Viterbi over the model's frame posteriors)."""

    libraries = Libraries("qwen", ("torch", "torchaudio", "transformers"))

    config: CtcAlignerConfig

    def load_backend(self) -> CtcBackend:
        cfg = self.config
        return CtcBackend(load_ctc_model(str(cfg.model), cfg.device, trust=cfg.trust_checkpoint), cfg.word_delimiter)


class CtcModel:
    """Frame log-posteriors and a vocabulary, whatever the toolkit."""

    vocabulary: dict[str, int]
    blank: int

    def log_probs(self, waveform: Any) -> Any:
        """``(frames, vocabulary)`` log-probabilities for a mono 16 kHz float tensor."""
        raise NotImplementedError

    def encode(self, word: str) -> list[int]:
        """Token ids of one word (characters missing from the vocabulary are skipped)."""
        single_case = all(k == k.lower() for k in self.vocabulary) or all(k == k.upper() for k in self.vocabulary)
        ids = []
        for char in word:
            token = char
            if token not in self.vocabulary and single_case:
                token = char.lower() if char.lower() in self.vocabulary else char.upper()
            if token in self.vocabulary:
                ids.append(self.vocabulary[token])
        return ids


class HfCtcModel(CtcModel):
    def __init__(self, name: str, device: str, trust: bool) -> None:
        from transformers import AutoFeatureExtractor, AutoModelForCTC, AutoTokenizer

        if Path(name).is_dir():
            check_pickled_weights(Path(name), trusted=trust)
        self.extractor = AutoFeatureExtractor.from_pretrained(name)
        self.model = pretrained(AutoModelForCTC, name, trusted=trust).to(device).eval()
        tokenizer = AutoTokenizer.from_pretrained(name)
        self.vocabulary = dict(tokenizer.get_vocab())
        self.blank = int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0)
        self.device = device

    def log_probs(self, waveform: Any) -> Any:
        import torch

        features = self.extractor(waveform.numpy(), sampling_rate=16_000, return_tensors="pt")
        with torch.inference_mode():
            logits = self.model(features.input_values.to(self.device)).logits[0]
        return torch.log_softmax(logits.float(), dim=-1).cpu()


class NemoCtcModel(CtcModel):
    def __init__(self, path: str, device: str, trust: bool) -> None:
        from qasr_plugins.adapters.nemo.loading import restore_nemo_file

        self.model = restore_nemo_file(path, device=device, trust=trust).eval()
        decoder = getattr(self.model, "decoder", None)
        vocabulary = list(getattr(decoder, "vocabulary", []) or [])
        self.tokenizer = getattr(self.model, "tokenizer", None)
        if self.tokenizer is not None:
            vocabulary = [self.tokenizer.ids_to_tokens([i])[0] for i in range(self.tokenizer.vocab_size)]
        self.vocabulary = {token: i for i, token in enumerate(vocabulary)}
        self.blank = len(vocabulary)
        self.device = device

    def encode(self, word: str) -> list[int]:
        if self.tokenizer is not None:
            return list(self.tokenizer.text_to_ids(word))
        return super().encode(word)

    def log_probs(self, waveform: Any) -> Any:
        import torch

        signal = waveform.unsqueeze(0).to(self.device)
        length = torch.tensor([signal.shape[1]], device=self.device)
        with torch.inference_mode():
            log_probs, encoded_len, _ = self.model.forward(input_signal=signal, input_signal_length=length)
        return log_probs[0, : int(encoded_len[0])].float().cpu()


def load_ctc_model(name: str, device: str, *, trust: bool = False) -> CtcModel:
    """A NeMo model for ``*.nemo`` files, else a Hugging Face CTC model.

    Pickle-based weights load only when torch's weights-only loader accepts them, unless ``trust``.

    Raises:
        StageError: ``S411`` when the model cannot be loaded, ``S407`` when its weights could run code.
    """
    if missing_local_path(name):
        raise StageError(f"cannot load the CTC model {name!r}: no such file or directory.", where="model",
                         code="S404", hint="Fix the path: a directory saved with save_pretrained (config.json, "
                         "tokenizer files) or a NeMo CTC .nemo file.")
    try:
        if name.endswith(".nemo"):
            return NemoCtcModel(name, device, trust)
        return HfCtcModel(name, device, trust)
    except (OSError, ValueError, KeyError, ImportError, pickle.UnpicklingError) as exc:
        if is_refusal(exc):
            raise untrusted(f"the CTC model {name!r}", refusal_reason(exc)) from exc
        local = Path(name).exists()
        raise StageError(f"cannot load the CTC model {name!r} ({type(exc).__name__}: {exc})", where="model",
                         code="S411",
                         hint="Give a local directory saved with save_pretrained (config.json, tokenizer files), "
                              "a NeMo CTC .nemo file, or a hub id that is in the local cache."
                              if not local else "Check that the directory holds a CTC model and its tokenizer."
                         ) from exc


class CtcBackend:
    """Forced alignment of units with ``torchaudio.functional.forced_align`` on CTC posteriors."""

    def __init__(self, model: CtcModel, word_delimiter: str | None = None) -> None:
        self.model = model
        if word_delimiter is None:
            word_delimiter = "|" if "|" in model.vocabulary else " "
        self.delimiter = model.vocabulary.get(word_delimiter)

    def supports(self, language: str | None) -> bool:
        return True

    def split(self, text: str, language: str | None) -> list[Unit]:
        # Whitespace words (CJK characters one by one); Japanese/Korean word splitters are not needed here.
        return split_units(text, None)

    def align(self, requests: Sequence[AlignRequest]) -> list[list[Span | None]]:
        return [self._align_one(r) for r in requests]

    def _align_one(self, request: AlignRequest) -> list[Span | None]:
        import torch
        import torchaudio.functional as F

        spans: list[Span | None] = [None] * len(request.units)
        if request.audio.duration < 0.1 or not request.units:
            return spans
        emissions = self.model.log_probs(torch.from_numpy(request.audio.waveform))
        targets: list[int] = []
        owner: list[int] = []
        for index, unit in enumerate(request.units):
            ids = [i for i in self.model.encode(unit.text) if i != self.model.blank]
            if ids and targets and self.delimiter is not None:
                targets.append(self.delimiter)
                owner.append(-1)
            targets.extend(ids)
            owner.extend([index] * len(ids))
        repeats = sum(a == b for a, b in itertools.pairwise(targets))
        if not targets or emissions.shape[0] < len(targets) + repeats:
            return spans
        labels, scores = F.forced_align(emissions.unsqueeze(0), torch.tensor([targets], dtype=torch.int32),
                                        blank=self.model.blank)
        frame = request.audio.duration / emissions.shape[0]
        for position, token_span in enumerate(F.merge_tokens(labels[0], scores[0].exp(), blank=self.model.blank)):
            index = owner[position]
            if index < 0:
                continue
            start = request.audio.offset + token_span.start * frame
            end = request.audio.offset + token_span.end * frame
            current = spans[index]
            spans[index] = Span(start, end) if current is None else Span(current.start, max(current.end, end))
        return spans
