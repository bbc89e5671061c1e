"""A third-party stage written against the public API only."""

from qasr_plugins.stage import StageConfig, VadStage, Writer
from qasr_plugins.types import SpeechRegions


class GoodVadConfig(StageConfig):
    everything: bool = True


class GoodVad(VadStage):
    """Marks the whole audio as speech."""

    Config = GoodVadConfig

    def process(self, batch):
        return [SpeechRegions(item.audio.uri, (item.audio.span,) if self.config.everything else ()) for item in batch]


class WordListWriter(Writer):
    """One timed word per line; needs word timestamps."""

    suffix = "words.txt"

    @classmethod
    def requires(cls, config):
        return frozenset({"transcript", "word_timestamps"})

    def render(self, document):
        return "".join(f"{w.span.start:.3f}\t{w.text}\n" for w in document.transcript.words() if w.span)
