"""Ecosystem bridges, one package per ecosystem, each holding both directions of its bridge.

- :mod:`qasr_plugins.adapters.nemo`: NeMo models as stages (ASR, frame VAD, Sortformer diarization), NeMo's frame
  post-processing rules, Qwen3-ASR as a NeMo ``ASRModel``, NeMo manifests and CTM files, tiny ``.nemo`` builders.
- :mod:`qasr_plugins.adapters.pyannote`: pyannote pipelines as a stage, ``pyannote.core`` conversions, the qasr graph
  as a ``pyannote.audio.Pipeline``, a tiny pipeline builder.
- :mod:`qasr_plugins.adapters.whisper`: faster-whisper (CTranslate2) models as an ASR stage, WhisperX-style JSON,
  a tiny CTranslate2 Whisper builder.

Each imports its ecosystem's libraries on demand; importing a package here stays light.
"""
