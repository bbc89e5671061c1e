"""First-party stages pass the same contract suite third-party plugins run."""

from qasr_plugins.stages.attribution import MaxOverlapAttribution
from qasr_plugins.stages.energy_vad import EnergyVad
from qasr_plugins.stages.silero_vad import SileroVad
from qasr_plugins.testing.contract import StageContract
from qasr_plugins.testing.fakes import FakeAligner, FakeAsr, FakeDiarization, FakeVad


class TestSileroVadContract(StageContract):
    stage_class = SileroVad
    registered_name = "silero.vad"


class TestEnergyVadContract(StageContract):
    stage_class = EnergyVad
    registered_name = "energy.vad"


class TestFakeVadContract(StageContract):
    stage_class = FakeVad


class TestFakeDiarizationContract(StageContract):
    stage_class = FakeDiarization


class TestFakeAsrContract(StageContract):
    stage_class = FakeAsr


class TestFakeAlignerContract(StageContract):
    stage_class = FakeAligner


class TestMaxOverlapAttributionContract(StageContract):
    stage_class = MaxOverlapAttribution
    registered_name = "max_overlap"
