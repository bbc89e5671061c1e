"""Fixtures for the alignment tests: a tiny random wav2vec2 CTC model and synthetic audio."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qasr_plugins.testing.dummies import dummy_audio
from qasr_plugins.types import SAMPLE_RATE, Audio

CTC_CHARS = list("abcdefghijklmnopqrstuvwxyz'")


@pytest.fixture(scope="session")
def tiny_ctc_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight ``Wav2Vec2ForCTC`` with a character vocabulary, saved like a hub checkpoint."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    path = tmp_path_factory.mktemp("tiny_ctc")
    vocab = {"<pad>": 0, "<unk>": 1, "|": 2, **{c: i + 3 for i, c in enumerate(CTC_CHARS)}}
    (path / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    tokenizer = transformers.Wav2Vec2CTCTokenizer(str(path / "vocab.json"), pad_token="<pad>", unk_token="<unk>",
                                                  word_delimiter_token="|")
    extractor = transformers.Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=SAMPLE_RATE, padding_value=0.0,
                                                      do_normalize=True, return_attention_mask=False)
    config = transformers.Wav2Vec2Config(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        conv_dim=(32, 32, 32), conv_stride=(5, 4, 16), conv_kernel=(10, 8, 16), num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4, pad_token_id=0, do_stable_layer_norm=True, feat_extract_norm="layer")
    torch.manual_seed(0)
    model = transformers.Wav2Vec2ForCTC(config)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    extractor.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def speechlike():
    """Build speech-like audio (voiced ``(start, end)`` bursts over near silence; the kit's ``dummy_audio``):
    ``speechlike(seconds, bursts, seed=0, offset=0.0)``."""

    def build(seconds: float, bursts: list[tuple[float, float]], seed: int = 0, offset: float = 0.0) -> Audio:
        return dummy_audio(seconds, bursts, uri="synthetic", seed=seed, offset=offset, noise=1e-4)

    return build


@pytest.fixture(scope="session")
def tiny_aligner_stage(tiny_aligner: Path):
    """A loaded ``qwen3.forced_aligner`` on the tiny native checkpoint (repair on)."""
    from qasr_plugins.qwen3.aligner import Qwen3ForcedAligner

    stage = Qwen3ForcedAligner(model=str(tiny_aligner))
    stage.ensure_loaded()
    return stage
