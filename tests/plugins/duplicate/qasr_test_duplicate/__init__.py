"""Claims a stage name that qasr-plugins already registers."""

from qasr_plugins.stages.energy_vad import EnergyVad


class EnergyVadClone(EnergyVad):
    pass
