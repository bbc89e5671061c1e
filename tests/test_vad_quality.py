"""Real VAD stages on real audio (pyannote's sample), scored against its reference turns."""

from __future__ import annotations

import pytest

from qasr_plugins import Pipeline

pytestmark = pytest.mark.slow  # real bundled models on real audio


def detection_error(sample_wav, sample_rttm, overrides) -> float:
    from pyannote.core import Annotation, Segment
    from pyannote.database.util import load_rttm
    from pyannote.metrics.detection import DetectionErrorRate

    document = Pipeline.from_config("vad", overrides)(sample_wav)
    hypothesis = Annotation(uri="sample")
    for region in document.speech.regions:
        hypothesis[Segment(region.start, region.end)] = "speech"
    reference = load_rttm(str(sample_rttm))["sample"]
    return DetectionErrorRate(collar=0.0)(reference, hypothesis)


@pytest.mark.parametrize("overrides,measured,bound", [
    ([], 0.016, 0.03),                     # silero.vad: 1.6 % detection error rate measured
    (["stages/vad=energy"], 0.029, 0.05),  # energy.vad: 2.9 % measured
])
def test_detection_error_on_sample(sample_wav, sample_rttm, overrides, measured, bound) -> None:
    error = detection_error(sample_wav, sample_rttm, overrides)
    assert error <= bound, f"detection error {error:.3f} (measured {measured} when written)"


def test_silero_onnx_and_torchscript_find_the_same_regions(sample_wav) -> None:
    onnx_pipeline = Pipeline.from_config("vad")
    torchscript_pipeline = Pipeline.from_config("vad", ["stages.vad.onnx=false"])
    assert [node.config.onnx for node in (*onnx_pipeline.spec.nodes, *torchscript_pipeline.spec.nodes)] == [True, False]
    onnx, torchscript = (pipeline(sample_wav).speech.regions for pipeline in (onnx_pipeline, torchscript_pipeline))
    assert len(onnx) >= 2
    assert onnx == torchscript
