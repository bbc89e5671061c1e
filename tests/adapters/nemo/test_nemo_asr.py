"""NeMo ASR models as a stage, on a tiny random-weight .nemo built offline in the real format."""

from __future__ import annotations

from pathlib import Path

import pytest

from qasr_plugins import Pipeline
from qasr_plugins.adapters.nemo.asr import NemoAsr
from qasr_plugins.adapters.nemo.tiny import build_tiny_ctc_model
from qasr_plugins.document import ResultDocument
from qasr_plugins.errors import StageError
from qasr_plugins.testing.contract import StageContract


@pytest.fixture(scope="module")
def tiny_nemo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_ctc_model(tmp_path_factory.mktemp("nemo") / "tiny_ctc.nemo")


def test_nemo_stage_through_vad_regions_keeps_absolute_times(tiny_nemo: Path, sample_wav: Path,
                                                             tmp_path: Path) -> None:
    pipeline = Pipeline.from_config(Path(__file__).parents[2] / "configs" / "nemo_vad_asr.yaml",
                                    [f"stages.asr.model={tiny_nemo}"])
    summary = pipeline.run([sample_wav], tmp_path, progress=False)
    assert summary.line() == "1 done, 0 skipped, 0 failed"
    document = ResultDocument.load(tmp_path / "sample.json")
    regions = document.speech.regions
    segments = document.transcript.segments
    assert [s.span for s in segments] == list(regions)  # one segment per region, absolute times
    assert regions[0].start > 5.0
    timed = [w for s in segments for w in s.words]
    assert timed and all(w.span is not None for w in timed)
    for segment in segments:
        for word in segment.words:
            assert segment.span.start - 1e-6 <= word.span.start <= word.span.end <= segment.span.end + 1e-6
    assert {s.language for s in segments} == {"en"}
    record = next(r for r in document.provenance if r.node == "asr")
    assert record.name == "nemo.asr" and record.model == str(tiny_nemo)


def test_missing_nemo_file_is_a_coded_error(tmp_path: Path) -> None:
    with pytest.raises(StageError) as info:
        NemoAsr(model=str(tmp_path / "nope.nemo")).ensure_loaded()
    assert info.value.code == "S404" and "nope.nemo" in info.value.render()


class TestNemoAsrContract(StageContract):
    stage_class = NemoAsr
    registered_name = "nemo.asr"
    settings = {"batch_size": 2}
    settings_from_fixtures = {"model": "tiny_nemo"}
