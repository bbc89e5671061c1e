"""Toolkit-neutral first-party stages: ``energy.vad``, ``silero.vad``, ``embedded.diarization`` (resemblyzer and
CAM++ embeddings + clustering), ``max_overlap`` attribution and ``ctc.aligner``.

Stages tied to an ecosystem live with its bridge (``qasr_plugins.adapters.<ecosystem>``), the Qwen3 stages in
:mod:`qasr_plugins.qwen3`. Every one is registered through the same entry points a third party uses.
"""
