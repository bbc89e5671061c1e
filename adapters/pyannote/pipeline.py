"""The qasr graph as a ``pyannote.audio.Pipeline``: pyannote's tools (metrics, protocols) drive a qasr pipeline."""

from __future__ import annotations

from typing import Any

from qasr_plugins.adapters.pyannote.convert import to_diarize_output


def as_pyannote_pipeline(pipeline: Any) -> Any:
    """Wrap a qasr :class:`~qasr_plugins.api.Pipeline` as a ``pyannote.audio.Pipeline``.

    ``apply(file)`` takes any pyannote ``AudioFile`` (path, ``{"audio": path}`` or in-memory
    ``{"waveform", "sample_rate"}``) and returns ``DiarizeOutput`` built from the graph's diarization node, so tools
    written against pyannote (metrics, ``pyannote.database`` protocols, the ``Optimizer`` plumbing) can drive a qasr
    graph. The full :class:`~qasr_plugins.document.ResultDocument` stays available as ``pipeline.last_document``.
    """
    from pyannote.audio import Pipeline as PyannotePipeline

    class QasrPipeline(PyannotePipeline):
        def __init__(self) -> None:
            super().__init__()
            self.qasr = pipeline
            self.last_document = None

        def apply(self, file: Any, **kwargs: Any) -> Any:
            from qasr_plugins.audio import to_audio

            source = file if isinstance(file, dict) else {"audio": str(file)}
            document = self.qasr(to_audio(source))
            self.last_document = document
            if document.diarization is None:
                raise ValueError("this qasr pipeline has no diarization node to report")
            return to_diarize_output(document.diarization)

    return QasrPipeline()
