"""A tiny random-weight pyannote speaker-diarization pipeline in the layout of
``pyannote/speaker-diarization-community-1``, built offline.

The directory holds ``config.yaml`` (pyannote.audio's ``SpeakerDiarization`` with VBx clustering, models referenced
as ``$model/<subfolder>``), ``segmentation/pytorch_model.bin`` (a small ``PyanNet`` with segmentation-3.0's powerset
specifications), ``embedding/pytorch_model.bin`` (``WeSpeakerResNet34``, as community-1, on 8 mel bins to stay fast)
and ``plda/{xvec_transform,plda}.npz``. ``Pipeline.from_pretrained(directory)`` loads it like the released pipeline
and runs the real segmentation → embedding → VBx code; its decisions are meaningless.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

CONFIG = """\
pipeline:
  name: pyannote.audio.pipelines.SpeakerDiarization
  params:
    clustering: VBxClustering
    segmentation: $model/segmentation
    segmentation_batch_size: 32
    embedding: $model/embedding
    embedding_batch_size: 32
    embedding_exclude_overlap: true
    plda: $model/plda
params:
  clustering:
    threshold: 0.6
    Fa: 0.07
    Fb: 0.8
  segmentation:
    min_duration_off: 0.0
"""
LDA_DIMENSION = 16


def build_tiny_diarization_pipeline(path: str | Path, *, seed: int = 0) -> Path:
    """Write the pipeline directory; deterministic for a given ``seed``, well under a second.

    The segmentation classifier is biased towards one or two active speakers, so the pipeline does not stop early
    on an all-silent random output.
    """
    import torch
    from pyannote.audio.core.task import Problem, Resolution, Specifications
    from pyannote.audio.models.embedding import WeSpeakerResNet34
    from pyannote.audio.models.segmentation import PyanNet

    path = Path(path)
    torch.manual_seed(seed)
    segmentation = PyanNet(sincnet={"stride": 10}, lstm={"hidden_size": 8, "num_layers": 1, "bidirectional": True},
                           linear={"hidden_size": 8, "num_layers": 1})
    segmentation.specifications = Specifications(
        problem=Problem.MONO_LABEL_CLASSIFICATION, resolution=Resolution.FRAME, duration=10.0, min_duration=None,
        warm_up=(0.0, 0.0), classes=["speaker#1", "speaker#2", "speaker#3"], powerset_max_classes=2,
        permutation_invariant=True)
    segmentation.setup()  # builds the powerset classifier: silence, 3 single speakers, 3 pairs
    with torch.no_grad():
        segmentation.classifier.weight.mul_(8.0)
        segmentation.classifier.bias.copy_(torch.tensor([0.0, 1.0, 1.0, -1.0, -1.0, -2.0, -2.0]))
    _save_checkpoint(segmentation, path / "segmentation" / "pytorch_model.bin")

    embedding = WeSpeakerResNet34(num_mel_bins=8)
    embedding.specifications = Specifications(problem=Problem.REPRESENTATION, resolution=Resolution.CHUNK,
                                              duration=5.0)
    _save_checkpoint(embedding, path / "embedding" / "pytorch_model.bin")

    rng = np.random.default_rng(seed)
    dimension = embedding.dimension
    projection, _ = np.linalg.qr(rng.standard_normal((dimension, LDA_DIMENSION)))
    (path / "plda").mkdir(parents=True, exist_ok=True)
    np.savez(path / "plda" / "xvec_transform.npz", mean1=np.zeros(dimension), mean2=np.zeros(LDA_DIMENSION),
             lda=projection)
    np.savez(path / "plda" / "plda.npz", mu=np.zeros(LDA_DIMENSION), tr=np.eye(LDA_DIMENSION),
             psi=np.sort(rng.uniform(0.5, 5.0, LDA_DIMENSION))[::-1].copy())
    (path / "config.yaml").write_text(CONFIG, encoding="utf-8")
    return path


def _save_checkpoint(model: Any, path: Path) -> None:
    """pyannote's checkpoint format: Lightning's dict plus the ``pyannote.audio`` metadata the model adds."""
    import lightning
    import torch

    checkpoint = {"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams),
                  "pytorch-lightning_version": lightning.__version__}
    model.on_save_checkpoint(checkpoint)  # versions, architecture (module, class), specifications
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, path)


__all__ = ["build_tiny_diarization_pipeline"]
