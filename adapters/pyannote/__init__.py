"""The pyannote bridge, both directions.

pyannote as qasr: the ``pyannote.diarization`` stage (:mod:`.diarization`). qasr as pyannote: conversions between
qasr's time containers and ``pyannote.core`` (:mod:`.convert`) and the qasr graph as a ``pyannote.audio.Pipeline``
(:mod:`.pipeline`). :mod:`.tiny` builds a tiny random-weight pipeline directory for tests.
"""

from qasr_plugins.adapters.pyannote.convert import (
    from_annotation,
    from_diarize_output,
    from_timeline,
    to_annotation,
    to_diarize_output,
    to_segment,
    to_timeline,
)
from qasr_plugins.adapters.pyannote.pipeline import as_pyannote_pipeline

__all__ = ["as_pyannote_pipeline", "from_annotation", "from_diarize_output", "from_timeline", "to_annotation",
           "to_diarize_output", "to_segment", "to_timeline"]
