"""Tiny random-weight NeMo models built offline in the real ``.nemo`` format (for tests and examples)."""

from __future__ import annotations

from pathlib import Path

CHARACTERS = tuple(" abcdefghijklmnopqrstuvwxyz'")


def build_tiny_ctc_model(path: str | Path, *, seed: int = 0) -> Path:
    """Save a character-vocabulary ``EncDecCTCModel`` (16 mel features, one 32-filter conv block) to ``path``.

    Deterministic for a given ``seed``; a few seconds once NeMo is imported.
    """
    import torch
    from nemo.collections.asr.models import EncDecCTCModel
    from omegaconf import OmegaConf

    labels = list(CHARACTERS)
    config = OmegaConf.create({
        "sample_rate": 16000,
        "labels": labels,
        "preprocessor": {"_target_": "nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor",
                         "sample_rate": 16000, "features": 16, "n_fft": 512, "window_size": 0.025,
                         "window_stride": 0.01, "normalize": "per_feature", "dither": 0.0},
        "encoder": {"_target_": "nemo.collections.asr.modules.ConvASREncoder", "feat_in": 16, "activation": "relu",
                    "conv_mask": True,
                    "jasper": [{"filters": 32, "repeat": 1, "kernel": [11], "stride": [2], "dilation": [1],
                                "dropout": 0.0, "residual": False, "separable": False}]},
        "decoder": {"_target_": "nemo.collections.asr.modules.ConvASRDecoder", "feat_in": 32,
                    "num_classes": len(labels), "vocabulary": labels},
    })
    torch.manual_seed(seed)
    model = EncDecCTCModel(cfg=config)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save_to(str(path))
    return path
