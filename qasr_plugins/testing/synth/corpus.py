"""The evaluation corpus: dev and test conversations generated from a seed, each labelled with its conditions.

Every conversation is drawn from its split's own voices (espeak-ng base voices and variants, disjoint between
``dev`` and ``test``), so settings tuned on dev meet unheard voices on test. Conditions vary one conversation
to the next, each value present in each split: 1–6 speakers, overlapped speech 0–20 %, noise from clean to
0 dB SNR, turns from backchannels to 30 s monologues, a wideband, reverberant or telephone channel, and English
spoken by English voices, by other languages' voices, or partly in those languages. Two recordings per split
run past 30 minutes.

    from qasr_plugins.testing.synth.corpus import corpus, render, select
    entries = select(corpus(), "dev")                 # the short dev conversations
    rendered = render(entries, "data/corpus")        # cached: a second call only reads the sidecars
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from qasr_plugins.testing.synth.render import Conversation, SynthesizedConversation, Utterance, Voice, synthesize
from qasr_plugins.testing.synth.texts import BACKCHANNELS, OWN_LANGUAGE, SENTENCES

Split = Literal["dev", "test"]
SPLITS: tuple[Split, ...] = ("dev", "test")
SHORT_PER_SPLIT = 24
LONG_SECONDS = 34 * 60  # planned length of the long recordings: 30 minutes and more once rendered (±10 %)

#: Target overlapped-speech ratios (overlapped time / speech time) per bucket.
OVERLAP_BUCKETS: dict[str, tuple[float, ...]] = {"0%": (0.0,), "0-5%": (0.02, 0.035), "5-10%": (0.065, 0.085),
                                                 "10-20%": (0.13, 0.17)}
#: Noise levels (dB SNR) per bucket; ``clean`` adds none.
SNR_BUCKETS: dict[str, tuple[float | None, ...]] = {"clean": (None,), "20-30 dB": (22.0, 26.0, 30.0),
                                                    "10-20 dB": (11.0, 15.0, 19.0), "0-10 dB": (0.0, 3.0, 6.0, 9.0)}
TURN_STYLES = ("backchannel", "conversational", "monologue")
CHANNELS = ("wideband", "reverb", "telephone", "reverb+telephone")
LANGUAGES = ("en", "accented", "multilingual")
SPEAKER_COUNTS = (1, 2, 3, 4, 5, 6)


@dataclass(frozen=True)
class VoicePool:
    """Voices a split may use: English base voices, other languages' base voices and variants."""

    english: tuple[str, ...]
    foreign: tuple[str, ...]
    variants: tuple[str, ...]

    def names(self) -> frozenset[str]:
        return frozenset(f"{b}+{v}" for b in (*self.english, *self.foreign) for v in self.variants)


VOICES: dict[Split, VoicePool] = {
    "dev": VoicePool(("en-us", "en-gb"), ("de", "fr-fr", "pl", "hi"),
                     ("m1", "m2", "m3", "m4", "f1", "f2", "f3", "f4", "klatt", "klatt2", "Andy", "Annie", "adam",
                      "anika", "aunty", "boris", "david", "edward", "iven", "john", "linda", "max", "michel")),
    "test": VoicePool(("en-gb-scotland", "en-029", "en-us-nyc", "en-gb-x-rp"), ("es", "it", "nl", "pt-br", "sv"),
                      ("m5", "m6", "m7", "m8", "f5", "klatt3", "klatt4", "Alex", "Alicia", "Andrea", "Lee", "Mike",
                       "benjamin", "caleb", "gustave", "norbert", "paul", "quincy", "robert", "sandro", "shelby",
                       "steph", "travis", "victor", "zac")),
}


@dataclass(frozen=True)
class Conditions:
    """What a conversation is made of, as labels for the per-condition report."""

    speakers: int
    overlap: str  # a key of OVERLAP_BUCKETS (the planned ratio; the rendered one is in the reference)
    snr: str  # a key of SNR_BUCKETS
    turns: str  # one of TURN_STYLES
    channel: str  # one of CHANNELS
    language: str  # one of LANGUAGES
    length: str  # "short" or "long"

    def as_dict(self) -> dict[str, str | int]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class CorpusEntry:
    split: Split
    conversation: Conversation
    conditions: Conditions
    planned_duration: float  # seconds, from the script (speech estimated from words and speed)

    @property
    def name(self) -> str:
        return self.conversation.name

    @property
    def is_long(self) -> bool:
        return self.conditions.length == "long"


def estimated_seconds(text: str, voice: Voice) -> float:
    """How long espeak-ng takes to say ``text``: 0.87 × words at the voice's words per minute (measured)."""
    return 0.87 * len(text.split()) * 60.0 / voice.speed


def _language(base: str) -> str:
    return base.split("-")[0]


@dataclass(frozen=True)
class _Spec:
    name: str
    speakers: int
    overlap: str
    snr: str
    turns: str
    channel: str
    language: str
    seconds: float


class _Writer:
    """Draws one conversation's voices and script from ``rng``."""

    def __init__(self, spec: _Spec, pool: VoicePool, rng: np.random.Generator) -> None:
        self.spec, self.rng = spec, rng
        variants = rng.choice(len(pool.variants), size=spec.speakers, replace=False)
        foreign = {"en": 0, "accented": max(1, spec.speakers // 2), "multilingual": max(1, spec.speakers // 2)}
        bases = [str(rng.choice(pool.foreign)) if i < foreign[spec.language] else str(rng.choice(pool.english))
                 for i in range(spec.speakers)]
        self.names = [f"spk{i + 1}" for i in range(spec.speakers)]
        self.voices = {name: Voice(f"{base}+{pool.variants[v]}", int(rng.integers(25, 76)), int(rng.integers(135, 196)))
                       for name, base, v in zip(self.names, bases, variants, strict=True)}
        self.own = {name for name, base in zip(self.names, bases, strict=True)
                    if spec.language == "multilingual" and _language(base) in OWN_LANGUAGE}
        self.weights = rng.dirichlet(np.full(spec.speakers, 2.0))

    def _sentence(self, speaker: str) -> str:
        base = self.voices[speaker].name.split("+")[0]
        if speaker in self.own and self.rng.random() < 0.7:
            return str(self.rng.choice(OWN_LANGUAGE[_language(base)]))
        return str(self.rng.choice(SENTENCES))

    def _text(self, speaker: str, style: str) -> str:
        if style == "backchannel" and self.rng.random() < 0.4:
            return str(self.rng.choice(BACKCHANNELS))
        count = {"backchannel": (1, 1), "conversational": (1, 2), "monologue": (3, 7)}[style]
        return " ".join(self._sentence(speaker) for _ in range(int(self.rng.integers(count[0], count[1] + 1))))

    def _next_speaker(self, index: int, previous: str | None) -> str:
        if index < len(self.names):
            return self.names[index]
        others = [i for i, n in enumerate(self.names) if n != previous] or [0]
        p = self.weights[others] / self.weights[others].sum()
        return self.names[int(self.rng.choice(others, p=p))]

    def script(self) -> tuple[Utterance, ...]:
        spec, rng = self.spec, self.rng
        utterances: list[Utterance] = []
        seconds, previous = 0.0, None
        while seconds < spec.seconds or len(utterances) < len(self.names):  # everyone speaks
            speaker = self._next_speaker(len(utterances), previous)
            style = spec.turns
            if style == "monologue" and len(self.names) > 1 and speaker != self.names[0] and rng.random() < 0.6:
                style = "backchannel"  # the others mostly reply briefly
            text = self._text(speaker, style)
            pause = 0.0 if not utterances else float(rng.uniform(0.1, 0.6) if style == "backchannel"
                                                    else rng.uniform(0.3, 1.2))
            utterances.append(Utterance(speaker, text, round(pause, 2)))
            seconds += pause + estimated_seconds(text, self.voices[speaker])
            previous = speaker
        return self._overlap(utterances)

    def _overlap(self, utterances: list[Utterance]) -> tuple[Utterance, ...]:
        """Overlapped starts and interjections until the planned overlap ratio is reached."""
        target = float(self.rng.choice(OVERLAP_BUCKETS[self.spec.overlap]))
        if target == 0.0 or len(self.names) == 1:
            return tuple(utterances)
        length = [estimated_seconds(u.text, self.voices[u.speaker]) for u in utterances]
        needed = target * sum(length) / (1 + target)
        out = list(utterances)
        inserted: list[tuple[int, Utterance]] = []
        for i in self.rng.permutation(len(utterances)):
            if needed <= 0.05:
                break
            u = utterances[i]
            if length[i] > 6.0 and self.rng.random() < 0.6:  # an interjection over a long turn
                other = str(self.rng.choice([n for n in self.names if n != u.speaker]))
                text = self._sentence(other) if needed > 2.0 else str(self.rng.choice(BACKCHANNELS))
                start = round(float(self.rng.uniform(0.2, 0.7)), 2)
                inserted.append((i, Utterance(other, text, 0.0, interject=start)))
                needed -= min(estimated_seconds(text, self.voices[other]), (1 - start) * length[i])
            elif i > 0 and utterances[i - 1].speaker != u.speaker:
                amount = min(needed, 0.45 * min(length[i - 1], length[i]))
                if amount >= 0.2:
                    out[i] = dataclasses.replace(u, pause=-round(amount, 2))
                    needed -= amount
        for i, interjection in sorted(inserted, reverse=True):
            out.insert(i + 1, interjection)
        return tuple(out)


def _channel(channel: str, rng: np.random.Generator) -> dict[str, object]:
    return {"reverberance": int(rng.integers(30, 91)) if "reverb" in channel else None,
            "telephone": "telephone" in channel}


def _entry(split: Split, spec: _Spec, seed: int) -> CorpusEntry:
    rng = np.random.default_rng(seed)
    writer = _Writer(spec, VOICES[split], rng)
    utterances = writer.script()
    snr = SNR_BUCKETS[spec.snr][int(rng.integers(len(SNR_BUCKETS[spec.snr])))]
    conversation = Conversation(spec.name, writer.voices, utterances, noise_snr_db=snr, seed=seed,
                                noise_colour=str(rng.choice(("white", "pink", "brown"))),
                                **_channel(spec.channel, rng))  # type: ignore[arg-type]
    planned = 2 * conversation.lead_in + sum(u.pause + estimated_seconds(u.text, writer.voices[u.speaker])
                                             for u in utterances if u.interject is None)
    conditions = Conditions(spec.speakers, spec.overlap, spec.snr, spec.turns, spec.channel, spec.language,
                            "long" if spec.seconds >= LONG_SECONDS else "short")
    return CorpusEntry(split, conversation, conditions, planned)


def _tiled(values: Sequence[object], count: int, rng: np.random.Generator) -> list[object]:
    """``count`` values, each of ``values`` equally often (±1), in a random order."""
    tiled = [values[i % len(values)] for i in range(count)]
    return [tiled[i] for i in rng.permutation(count)]


def _specs(split: Split, rng: np.random.Generator) -> list[_Spec]:
    n = SHORT_PER_SPLIT
    speakers = _tiled(SPEAKER_COUNTS, n, rng)
    several = [i for i, s in enumerate(speakers) if s > 1]
    overlaps = dict(zip(several, _tiled(tuple(OVERLAP_BUCKETS), len(several), rng), strict=True))
    snrs, turns = _tiled(tuple(SNR_BUCKETS), n, rng), _tiled(TURN_STYLES, n, rng)
    channels = _tiled(CHANNELS, n, rng)
    languages = _tiled(("en", "en", "accented", "multilingual"), n, rng)
    specs = [_Spec(f"{split}-{i:02d}", int(speakers[i]), str(overlaps.get(i, "0%")), str(snrs[i]), str(turns[i]),
                   str(channels[i]), str(languages[i]), float(rng.uniform(35.0, 90.0))) for i in range(n)]
    specs.append(_Spec(f"{split}-long-1", 4, "0-5%", "clean", "conversational", "wideband", "en", LONG_SECONDS))
    specs.append(_Spec(f"{split}-long-2", 2, "5-10%", "10-20 dB", "backchannel", "telephone", "accented",
                       LONG_SECONDS))
    return specs


def corpus(seed: int = 0) -> tuple[CorpusEntry, ...]:
    """Every conversation of both splits, deterministic for ``seed``: nothing is rendered."""
    entries: list[CorpusEntry] = []
    for index, split in enumerate(SPLITS):
        rng = np.random.default_rng([seed, index])
        for number, spec in enumerate(_specs(split, rng)):
            entries.append(_entry(split, spec, seed * 1_000_003 + index * 1000 + number))
    return tuple(entries)


def select(entries: Iterable[CorpusEntry], split: str = "all",
           lengths: Sequence[str] = ("short",)) -> list[CorpusEntry]:
    """The entries of ``split`` (``dev``, ``test`` or ``all``) whose length label is in ``lengths``."""
    return [e for e in entries if (split == "all" or e.split == split) and e.conditions.length in lengths]


def overlap_bucket(ratio: float) -> str:
    """The :data:`OVERLAP_BUCKETS` key of a measured overlap ratio (10 % and more: ``10-20%``)."""
    if ratio <= 0.0:
        return "0%"
    return "0-5%" if ratio < 0.05 else "5-10%" if ratio < 0.10 else "10-20%"


def render(entries: Iterable[CorpusEntry], directory: str | Path) -> list[SynthesizedConversation]:
    """Render ``entries`` into ``directory`` (cached per conversation)."""
    return [synthesize(e.conversation, directory) for e in entries]
