"""The Whisper bridge: faster-whisper (CTranslate2) models as the ``faster_whisper.asr`` stage (:mod:`.asr`), results
as WhisperX-style JSON (the ``whisperx`` writer, :mod:`.whisperx`), and :mod:`.tiny`, a tiny random-weight
multilingual Whisper in CTranslate2's format for tests.

faster-whisper lives here rather than in ``qasr_plugins.stages`` by the rule every bridge follows: it brings its own
model format (CTranslate2 directories), its own test builder and, through WhisperX, its own result format — an
ecosystem, not a toolkit-neutral stage.
"""
