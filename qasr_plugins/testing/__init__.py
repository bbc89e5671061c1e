"""Tools for testing stages and pipelines.

- :mod:`qasr_plugins.testing.contract`: the contract test suite a plugin author runs against their own stage.
- :mod:`qasr_plugins.testing.fakes`: small deterministic stages for testing graphs and runners (never products).
- :mod:`qasr_plugins.testing.synth`: synthetic multi-speaker conversations with exact references.

Tiny random-weight models in each ecosystem's real format live with their bridge: ``qasr_plugins.adapters.nemo.tiny``,
``qasr_plugins.adapters.pyannote.tiny``, ``qasr_plugins.adapters.whisper.tiny`` and ``qasr_plugins.qwen3.tiny``.
"""
