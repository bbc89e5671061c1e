"""A small pyannote.audio pipeline (loaded through ``Pipeline.from_pretrained`` from a local config.yaml)."""

from pyannote.audio import Pipeline
from pyannote.audio.pipelines.speaker_diarization import DiarizeOutput
from pyannote.core import Annotation, Segment


class AlternatingSpeakers(Pipeline):
    """Two-second turns alternating between speakers, overlapping by 0.5 s; ``bare`` returns an Annotation."""

    def __init__(self, bare: bool = False, **kwargs):
        super().__init__()
        self.bare = bare

    def apply(self, file, num_speakers=None, min_speakers=None, max_speakers=None, **kwargs):
        duration = file["waveform"].shape[1] / file["sample_rate"]
        speakers = num_speakers or 2
        regular, exclusive = Annotation(uri=file.get("uri")), Annotation(uri=file.get("uri"))
        start, index = 0.0, 0
        while start < duration:
            label = f"SPEAKER_{index % speakers:02d}"
            regular[Segment(start, min(duration, start + 2.5))] = label
            exclusive[Segment(start, min(duration, start + 2.0))] = label
            start, index = start + 2.0, index + 1
        return regular if self.bare else DiarizeOutput(regular, exclusive)
