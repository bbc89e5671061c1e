"""A test kit for stages, writers and pipelines, for plugin authors and qasr's own tests.

- :mod:`qasr_plugins.testing.dummies`: deterministic stand-ins — speech-like audio (several speakers at different
  pitches), speech regions, speaker turns, transcripts (timed or not, with speakers or not, CJK character units)
  and whole result documents.
- :mod:`qasr_plugins.testing.contract`: the contract suites a plugin author subclasses — ``StageContract`` for a
  stage, ``WriterContract`` for a writer.
- :func:`register_stage`: make a class resolvable by name for a ``with`` block, without installing a distribution
  (listed as ``<in-process>``).
- :mod:`qasr_plugins.testing.fakes`: small deterministic stages for testing graphs and runners (never products).
- :mod:`qasr_plugins.testing.synth`: synthetic multi-speaker conversations with exact references (espeak-ng).

.. code-block:: python

    from qasr_plugins import Pipeline
    from qasr_plugins.testing import dummy_audio, register_stage

    with register_stage("vad", "loud.vad", LoudVad):
        document = Pipeline.from_config("loud.yaml")(dummy_audio(6.0, [(1.5, 4.5)]))

Tiny random-weight models in each ecosystem's real format live with their bridge: ``qasr_plugins.adapters.nemo.tiny``,
``qasr_plugins.adapters.pyannote.tiny``, ``qasr_plugins.adapters.whisper.tiny`` and ``qasr_plugins.qwen3.tiny``.
"""

from qasr_plugins.testing.dummies import (
    dummy_audio,
    dummy_diarization,
    dummy_document,
    dummy_regions,
    dummy_transcript,
    dummy_turns,
)
from qasr_plugins.testing.registration import register_stage

__all__ = ["dummy_audio", "dummy_diarization", "dummy_document", "dummy_regions", "dummy_transcript", "dummy_turns",
           "register_stage"]
