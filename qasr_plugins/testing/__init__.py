"""Tools for testing stages and pipelines.

- :mod:`qasr_plugins.testing.contract`: the contract test suite a plugin author runs against their own stage.
- :mod:`qasr_plugins.testing.fakes`: small deterministic stages for testing graphs and runners (never products).
- :mod:`qasr_plugins.testing.synth`: synthetic multi-speaker conversations with exact references.
- :mod:`qasr_plugins.testing.nemo_models`: tiny random-weight NeMo models (CTC ASR, frame VAD, Sortformer) in the
  real ``.nemo`` format.
- :mod:`qasr_plugins.testing.pyannote_models`: a tiny random-weight pyannote diarization pipeline in the layout of
  ``pyannote/speaker-diarization-community-1``.
- :mod:`qasr_plugins.testing.whisper_models`: a tiny random-weight multilingual Whisper in faster-whisper's
  CTranslate2 format, with steerable language identification.
"""
