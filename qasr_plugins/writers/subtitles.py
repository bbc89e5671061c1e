"""The ``srt`` and ``vtt`` writers: subtitles with speaker labels (layout in :mod:`qasr_plugins.writers._cues`).

SRT is composed with the ``srt`` library. SRT has no escaping and no speaker markup, so a speaker is shown as a
``"{speaker}: "`` prefix (``speaker_template``); players read ``<...>`` in SRT text as formatting tags and hide it,
so with ``tag_safe`` (default) ``<`` and ``>`` are written as ``‹`` and ``›``. WebVTT puts the speaker in a voice span ``<v Speaker>``, escapes
``&``, ``<`` and ``>`` in cue text and annotations, and with ``highlight_words`` marks each word's start with a cue
timestamp tag (``<00:00:01.250>``) so players can highlight words as they are spoken.
"""

from __future__ import annotations

from datetime import timedelta

from qasr_plugins.document import ResultDocument
from qasr_plugins.stage import TranscriptWriter
from qasr_plugins.types import Transcript
from qasr_plugins.writers._cues import Cue, CueConfig, Token, build_cues, line_text


class SrtConfig(CueConfig):
    speaker_template: str = "{speaker}: "
    tag_safe: bool = True


_TAG_SAFE = str.maketrans({"<": "\u2039", ">": "\u203a"})


class VttConfig(CueConfig):
    highlight_words: bool = False


def _millis(seconds: float) -> int:
    return round(seconds * 1000)


class SrtWriter(TranscriptWriter):
    """Writes ``<uri>.srt`` (SubRip)."""

    config: SrtConfig
    suffix = "srt"

    def render_transcript(self, transcript: Transcript, document: ResultDocument) -> str:
        import srt

        config = self.config
        subtitles = []
        for index, cue in enumerate(build_cues(transcript, config), start=1):
            lines = [line.translate(_TAG_SAFE) for line in cue.lines] if config.tag_safe else list(cue.lines)
            if config.speaker_labels and cue.speaker:
                lines[0] = config.speaker_template.format(speaker=cue.speaker) + lines[0]
            subtitles.append(srt.Subtitle(index, timedelta(milliseconds=_millis(cue.span.start)),
                                          timedelta(milliseconds=_millis(cue.span.end)), "\n".join(lines)))
        return srt.compose(subtitles, reindex=False)


def vtt_timestamp(seconds: float) -> str:
    """``HH:MM:SS.mmm`` as WebVTT writes it."""
    millis = _millis(seconds)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def vtt_escape(text: str) -> str:
    """Escape cue text for WebVTT (``&``, ``<``, ``>``)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class VttWriter(TranscriptWriter):
    """Writes ``<uri>.vtt`` (WebVTT)."""

    config: VttConfig
    suffix = "vtt"

    def render_transcript(self, transcript: Transcript, document: ResultDocument) -> str:
        blocks, config = ["WEBVTT"], self.config
        for cue in build_cues(transcript, config):
            text = self._highlighted(cue) if config.highlight_words else "\n".join(map(vtt_escape, cue.lines))
            if config.speaker_labels and cue.speaker:
                annotation = vtt_escape(" ".join(cue.speaker.split()))
                text = f"<v {annotation}>{text}</v>"
            blocks.append(f"{vtt_timestamp(cue.span.start)} --> {vtt_timestamp(cue.span.end)}\n{text}")
        return "\n\n".join(blocks) + "\n"

    @staticmethod
    def _highlighted(cue: Cue) -> str:
        """Cue text with a timestamp tag before each word that starts strictly inside the cue, in order."""
        last, end = _millis(cue.span.start), _millis(cue.span.end)

        def show(token: Token) -> str:
            nonlocal last
            at = _millis(token.span.start)
            if last < at < end:
                last = at
                return f"<{vtt_timestamp(at / 1000)}>{vtt_escape(token.text)}"
            return vtt_escape(token.text)

        return "\n".join(line_text(row, show) for row in cue.rows)
