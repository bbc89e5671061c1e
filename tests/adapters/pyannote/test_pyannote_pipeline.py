"""The qasr graph as a tunable pyannote.audio Pipeline: hyper-parameters from the stages' declarations,
instantiate/dump/load through qasr's overrides, Optimizer tuning, and Pipeline.from_pretrained on a config.yaml."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from qasr_plugins import Pipeline
from qasr_plugins.errors import ConfigErrors

GRAPH = """\
defaults:
  - /stages/vad: energy
  - /stages/diarization@stages.diar: embedded
  - _self_
graph:
  vad:  {kind: vad}
  diar: {kind: diarization, inputs: {speech: vad}}
outputs: {formats: [rttm]}
"""


@pytest.fixture()
def graph(tmp_path: Path) -> Path:
    path = tmp_path / "energy_diarization.yaml"
    path.write_text(GRAPH, encoding="utf-8")
    return path


def test_hyperparameters_are_the_declared_settings_upstream_of_the_diarization() -> None:
    from pyannote.audio import Pipeline as PyannotePipeline
    from pyannote.pipeline.parameter import Uniform

    from qasr_plugins.adapters.pyannote import QasrPipeline
    from qasr_plugins.stages.embedded_diarization import EmbeddedDiarizationConfig
    from qasr_plugins.stages.silero_vad import SileroVadConfig

    wrapped = QasrPipeline("offline")
    assert isinstance(wrapped, PyannotePipeline)
    declared = wrapped.parameters()
    assert set(declared) == {"vad", "diar"}  # asr and words cannot change the turns
    assert set(declared["vad"]) == set(SileroVadConfig.tunable()) and isinstance(declared["vad"]["threshold"], Uniform)
    assert set(declared["diar"]) == set(EmbeddedDiarizationConfig.tunable())
    assert wrapped.instantiated and wrapped.parameters(instantiated=True) == wrapped.default_parameters()
    assert wrapped.default_parameters()["diar"]["merge_similarity"] == 0.9

    chosen = QasrPipeline("offline", hyperparameters=["vad.threshold", "words.gap_tolerance"])
    assert {k: set(v) for k, v in chosen.parameters().items()} == {"vad": {"threshold"}, "words": {"gap_tolerance"}}
    with pytest.raises(ValueError, match="not a tunable setting.*diar.merge_similarity"):
        QasrPipeline("offline", hyperparameters=["diar.window"])


def test_instantiate_dump_and_load_rebuild_the_qasr_pipeline(graph: Path, tmp_path: Path) -> None:
    from qasr_plugins.adapters.pyannote import as_pyannote_pipeline

    built = Pipeline.from_config(graph, ["stages.diar.num_speakers=2"])
    wrapped = as_pyannote_pipeline(built, hyperparameters=["vad.threshold_db", "diar.merge_similarity"])
    assert wrapped.qasr is built  # nothing to rebuild at the graph's own settings
    wrapped.instantiate({"vad": {"threshold_db": -20.5}})
    spec = wrapped.qasr.spec
    assert wrapped.qasr is not built and spec.node("vad").config.threshold_db == -20.5
    assert spec.node("diar").config.num_speakers == 2  # the built pipeline's settings are kept

    params = tmp_path / "params.yaml"
    wrapped.dump_params(params)
    fresh = as_pyannote_pipeline(built, hyperparameters=["vad.threshold_db", "diar.merge_similarity"])
    fresh.load_params(params)
    assert fresh.parameters(instantiated=True) == {"vad": {"threshold_db": -20.5}, "diar": {"merge_similarity": 0.9}}
    assert fresh.qasr.spec.node("vad").config.threshold_db == -20.5
    with pytest.raises(ConfigErrors) as caught:  # tuned values are validated like any override
        fresh.instantiate({"diar": {"merge_similarity": 1.5}})
    assert "stages.diar.merge_similarity" in str(caught.value)


def test_from_pretrained_loads_the_shipped_config_without_the_hub(monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    import pyannote.audio.core.pipeline as core
    from pyannote.audio import Pipeline as PyannotePipeline

    from qasr_plugins.adapters.pyannote import QasrPipeline, packaged_config

    def no_hub(*args, **kwargs):
        raise AssertionError("the hub was asked for a local config")

    monkeypatch.setattr(core, "download_from_hf_hub", no_hub)
    monkeypatch.setenv("PYANNOTE_METRICS_ENABLED", "true")
    config = packaged_config("offline")
    assert config.parent.name == "offline" and config.name == "config.yaml"
    loaded = PyannotePipeline.from_pretrained(config)
    assert isinstance(loaded, QasrPipeline) and loaded.qasr.spec.name == "offline"
    assert loaded.parameters(instantiated=True) == loaded.default_parameters()
    import os

    assert os.environ["PYANNOTE_METRICS_ENABLED"] == "false"  # telemetry off unless asked for

    tuned = tmp_path / "params.yaml"
    tuned.write_text("params:\n  vad: {threshold: 0.35, min_speech_duration: 0.2, min_silence_duration: 0.2, "
                     "speech_pad: 0.05}\n  diar: {one_speaker_connectivity: 0.5, merge_similarity: 0.85, "
                     "min_turn: 0.4, overlap_margin: 0.0}\n", encoding="utf-8")
    retuned = PyannotePipeline.from_pretrained(str(config.parent), hparams_file=tuned)
    assert retuned.qasr.spec.node("vad").config.threshold == 0.35
    assert retuned.qasr.spec.node("diar").config.overlap_margin == 0.0
    with pytest.raises(FileNotFoundError, match="shipped: offline"):
        packaged_config("nope")


def test_optimizer_tunes_a_mis_set_threshold_and_lowers_der(graph: Path, tmp_path: Path) -> None:
    """Energy VAD at -2 dB keeps only the loudest syllables; a few Optimizer trials over its threshold recover
    most of the speech (measured: DER 0.97 → 0.06 on this conversation)."""
    from pyannote.core import Segment, Timeline
    from pyannote.database.util import load_rttm
    from pyannote.pipeline import Optimizer

    from qasr_plugins.adapters.pyannote import QasrPipeline
    from qasr_plugins.testing.synth import CONVERSATIONS, Conversation, synthesize

    two = CONVERSATIONS["two_speakers"]
    sample = synthesize(Conversation("dev", two.voices, two.utterances[:4]), tmp_path / "synth")
    (reference,) = load_rttm(sample.rttm).values()
    end = max(t.span.end for t in sample.turns) + 0.5
    dev = [{"uri": "dev", "audio": str(sample.wav), "annotation": reference, "annotated": Timeline([Segment(0, end)])}]

    pipeline = QasrPipeline(graph, ["stages.vad.threshold_db=-2.0"], hyperparameters=["vad.threshold_db"])
    before = pipeline.loss(dev[0], pipeline(dev[0]))
    optimizer = Optimizer(pipeline, sampler="RandomSampler", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # pyannote.pipeline calls optuna's suggest_uniform
        result = optimizer.tune(dev, n_iterations=3, show_progress=False)
    best = optimizer.best_pipeline
    after = best.loss(dev[0], best(dev[0]))
    assert before > 0.5 and after == pytest.approx(result["loss"]) and after < before / 3
    assert best.qasr.spec.node("vad").config.threshold_db == result["params"]["vad"]["threshold_db"]
    assert -50.0 <= result["params"]["vad"]["threshold_db"] < -10.0
