"""Synthetic multi-speaker conversations with exact references, built offline with espeak-ng and sox.

* :mod:`~qasr_plugins.testing.synth.render` — a scripted :class:`Conversation` rendered to ``<name>.wav``
  (16 kHz mono), ``.rttm`` and ``.stm`` whose turns are the exact extents of the rendered speech; cached.
* :mod:`~qasr_plugins.testing.synth.conversations` — four small hand-written conversations (``CONVERSATIONS``).
* :mod:`~qasr_plugins.testing.synth.corpus` — the evaluation corpus: dev and test splits generated from a seed,
  each conversation labelled with its conditions (speakers, overlap, SNR, turn lengths, channel, language).

    from qasr_plugins.testing.synth import CONVERSATIONS, synthesize
    sample = synthesize(CONVERSATIONS["two_speakers"], "data/synth")
"""

from qasr_plugins.testing.synth.conversations import CONVERSATIONS
from qasr_plugins.testing.synth.render import (
    Conversation,
    ReferenceTurn,
    SynthesizedConversation,
    Utterance,
    Voice,
    overlap_ratio,
    render_voice,
    synthesize,
)

__all__ = ["CONVERSATIONS", "Conversation", "ReferenceTurn", "SynthesizedConversation", "Utterance", "Voice",
           "overlap_ratio", "render_voice", "synthesize"]
