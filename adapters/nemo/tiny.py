"""Tiny random-weight NeMo models built offline in the real ``.nemo`` format (for tests and examples): a CTC ASR
model, a frame VAD, a Sortformer diarizer and a TitaNet-style speaker embedding model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    return _save(EncDecCTCModel(cfg=config), path)


def build_tiny_frame_vad(path: str | Path, *, seed: int = 0, calibrate_on: Any = None) -> Path:
    """Save a MarbleNet-style ``EncDecFrameClassificationModel`` (80 mels, one 16-filter separable block, 20 ms
    frames) to ``path``.

    Args:
        path: The ``.nemo`` file to write.
        seed: Random seed of the weights.
        calibrate_on: A 16 kHz waveform; when given, the output layer is rescaled so that the speech logit on it is
            centred (about half its frames speech) with a spread of a few units — varied decisions to test with.
    """
    import torch
    from nemo.collections.asr.models import EncDecFrameClassificationModel
    from omegaconf import OmegaConf

    config = OmegaConf.create({
        "sample_rate": 16000, "labels": ["0", "1"],
        "preprocessor": {"_target_": "nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor",
                         "normalize": "None", "window_size": 0.025, "window_stride": 0.01, "sample_rate": 16000,
                         "window": "hann", "features": 80, "n_fft": 512, "frame_splicing": 1, "dither": 0.0,
                         "pad_to": 2},
        "encoder": {"_target_": "nemo.collections.asr.modules.ConvASREncoder", "feat_in": 80, "activation": "relu",
                    "conv_mask": True,
                    "jasper": [{"filters": 16, "repeat": 1, "kernel": [11], "stride": [2], "dilation": [1],
                                "dropout": 0.0, "residual": False, "separable": True}]},
        "decoder": {"_target_": "nemo.collections.common.parts.MultiLayerPerceptron", "hidden_size": 16,
                    "num_classes": -1, "num_layers": 1, "activation": "relu", "log_softmax": False},
    })
    torch.manual_seed(seed)
    model = EncDecFrameClassificationModel(cfg=config).eval()
    if calibrate_on is not None:
        signal = torch.as_tensor(calibrate_on, dtype=torch.float32)[None]
        with torch.inference_mode():
            logits = model(input_signal=signal, input_signal_length=torch.tensor([signal.shape[1]]))[0]
        margin = logits[:, 1] - logits[:, 0]
        scale = 3.0 / float(margin.std())
        layer = model.decoder.layer0  # the only layer (num_layers: 1)
        with torch.no_grad():  # speech margin m → scale·(m − median), split over the two logits
            layer.weight.mul_(scale)
            layer.bias.mul_(scale)
            layer.bias[1] -= scale * float(margin.median())
    return _save(model, path)


def build_tiny_sortformer(path: str | Path, *, seed: int = 0, calibrate_on: Any = None) -> Path:
    """Save a four-speaker ``SortformerEncLabelModel`` (one FastConformer and one Transformer layer, 80 ms frames)
    to ``path``.

    Args:
        path: The ``.nemo`` file to write.
        seed: Random seed of the weights.
        calibrate_on: A 16 kHz waveform; when given, each speaker slot's logit on it is centred on its median with a
            spread of a few units, so the slots switch on and off (random weights alone hover around 0.5).
    """
    import torch
    from nemo.collections.asr.models import SortformerEncLabelModel
    from omegaconf import OmegaConf

    encoder, transformer = 32, 16
    config = OmegaConf.create({
        "sample_rate": 16000, "max_num_of_spks": 4, "streaming_mode": False,
        "model_defaults": {"fc_d_model": encoder, "tf_d_model": transformer},
        "preprocessor": {"_target_": "nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor",
                         "normalize": "per_feature", "window_size": 0.025, "sample_rate": 16000,
                         "window_stride": 0.01, "window": "hann", "features": 80, "n_fft": 512,
                         "frame_splicing": 1, "dither": 0.0},
        "sortformer_modules": {"_target_": "nemo.collections.asr.modules.sortformer_modules.SortformerModules",
                               "num_spks": 4, "dropout_rate": 0.5, "fc_d_model": encoder,
                               "tf_d_model": transformer},
        "encoder": {"_target_": "nemo.collections.asr.modules.ConformerEncoder", "feat_in": 80, "feat_out": -1,
                    "n_layers": 1, "d_model": encoder, "subsampling": "dw_striding", "subsampling_factor": 8,
                    "subsampling_conv_channels": 16, "ff_expansion_factor": 2, "self_attention_model": "rel_pos",
                    "n_heads": 2, "att_context_size": [-1, -1], "xscaling": True, "untie_biases": True,
                    "pos_emb_max_len": 5000, "conv_kernel_size": 9, "conv_norm_type": "batch_norm"},
        "transformer_encoder": {
            "_target_": "nemo.collections.asr.modules.transformer.transformer_encoders.TransformerEncoder",
            "num_layers": 1, "hidden_size": transformer, "inner_size": 32, "num_attention_heads": 2,
            "hidden_act": "relu", "pre_ln": False, "pre_ln_final_layer_norm": True},
        "loss": {"_target_": "nemo.collections.asr.losses.bce_loss.BCELoss", "weight": None, "reduction": "mean"},
    })
    torch.manual_seed(seed)
    model = SortformerEncLabelModel(cfg=config).eval()
    if calibrate_on is not None:
        signal = torch.as_tensor(calibrate_on, dtype=torch.float32)[None]
        with torch.inference_mode():
            probabilities = model(audio_signal=signal, audio_signal_length=torch.tensor([signal.shape[1]]))[0]
        logits = torch.logit(probabilities.clamp(1e-6, 1 - 1e-6))
        scale = 3.0 / logits.std(0)
        layer = model.sortformer_modules.single_hidden_to_spks
        with torch.no_grad():  # sigmoid(layer(h)) → sigmoid(scale·(layer(h) − median))
            layer.weight.mul_(scale[:, None])
            layer.bias.copy_((layer.bias - logits.median(0).values) * scale)
    return _save(model, path)


def build_tiny_speaker_model(path: str | Path, *, seed: int = 0) -> Path:
    """Save a TitaNet-style ``EncDecSpeakerLabelModel`` (80 mels, one 32-filter separable block, attentive
    statistics pooling into 16-dimensional embeddings, four training speakers) to ``path``.

    Deterministic for a given ``seed``; a few seconds once NeMo is imported.
    """
    import torch
    from nemo.collections.asr.models import EncDecSpeakerLabelModel
    from omegaconf import OmegaConf

    config = OmegaConf.create({
        "sample_rate": 16000,
        "train_ds": {"sample_rate": 16000, "labels": None, "manifest_filepath": None, "defer_setup": True},
        "preprocessor": {"_target_": "nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor",
                         "normalize": "per_feature", "window_size": 0.025, "sample_rate": 16000,
                         "window_stride": 0.01, "window": "hann", "features": 80, "n_fft": 512,
                         "frame_splicing": 1, "dither": 0.0},
        "encoder": {"_target_": "nemo.collections.asr.modules.ConvASREncoder", "feat_in": 80, "activation": "relu",
                    "conv_mask": True,
                    "jasper": [{"filters": 32, "repeat": 1, "kernel": [3], "stride": [1], "dilation": [1],
                                "dropout": 0.0, "residual": False, "separable": True}]},
        "decoder": {"_target_": "nemo.collections.asr.modules.SpeakerDecoder", "feat_in": 32, "num_classes": 4,
                    "pool_mode": "attention", "emb_sizes": 16},
        "loss": {"_target_": "nemo.collections.common.losses.CrossEntropyLoss"},
    })
    torch.manual_seed(seed)
    return _save(EncDecSpeakerLabelModel(cfg=config), path)


def _save(model: Any, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save_to(str(path))
    return path
