"""The evaluation corpus as planned: deterministic, large enough, every condition in both splits, disjoint voices.

Nothing here renders audio: these check the scripts the corpus generator writes.
"""

from __future__ import annotations

import pytest

from qasr_plugins.testing.synth import CONVERSATIONS
from qasr_plugins.testing.synth.corpus import (
    CHANNELS,
    LANGUAGES,
    OVERLAP_BUCKETS,
    SNR_BUCKETS,
    SPEAKER_COUNTS,
    SPLITS,
    TURN_STYLES,
    VOICES,
    corpus,
    overlap_bucket,
    select,
)


@pytest.fixture(scope="module")
def entries():
    return corpus()


def test_same_seed_same_corpus_other_seed_other_corpus(entries) -> None:
    assert corpus(0) == entries
    other = corpus(1)
    assert [e.name for e in other] == [e.name for e in entries]
    assert [e.conversation for e in other] != [e.conversation for e in entries]


def test_at_least_forty_short_conversations_and_long_ones_in_each_split(entries) -> None:
    assert len(select(entries, "all")) >= 40
    assert len({e.name for e in entries}) == len(entries)
    for split in SPLITS:
        long = select(entries, split, ("long",))
        assert long and all(e.planned_duration >= 30 * 60 for e in long)
        assert all(e.planned_duration < 30 * 60 for e in select(entries, split))


@pytest.mark.parametrize("split", SPLITS)
def test_every_condition_value_in_each_split(entries, split: str) -> None:
    short = select(entries, split)
    expected = {"speakers": set(SPEAKER_COUNTS), "overlap": set(OVERLAP_BUCKETS), "snr": set(SNR_BUCKETS),
                "turns": set(TURN_STYLES), "channel": set(CHANNELS), "language": set(LANGUAGES)}
    for condition, values in expected.items():
        assert {getattr(e.conditions, condition) for e in short} == values, condition


def test_conditions_describe_the_script(entries) -> None:
    for entry in entries:
        conversation, conditions = entry.conversation, entry.conditions
        assert len({u.speaker for u in conversation.utterances}) == conditions.speakers == len(conversation.voices)
        assert (conversation.noise_snr_db is None) == (conditions.snr == "clean")
        if conversation.noise_snr_db is not None:
            low, high = (float(x) for x in conditions.snr.split()[0].split("-"))
            assert low <= conversation.noise_snr_db <= high
        assert conversation.telephone == ("telephone" in conditions.channel)
        assert (conversation.reverberance is not None) == ("reverb" in conditions.channel)
        overlapped = any(u.pause < 0 or u.interject is not None for u in conversation.utterances)
        assert overlapped == (conditions.overlap != "0%"), entry.name


def test_turn_lengths_span_backchannels_to_long_monologues(entries) -> None:
    words = [len(u.text.split()) for e in entries for u in e.conversation.utterances]
    assert min(words) == 1 and max(words) >= 60  # "Yeah." to about 30 s at 135–195 words a minute


def _voice_names(entries, split: str) -> set[str]:
    return {v.name for e in entries if e.split == split for v in e.conversation.voices.values()}


def test_dev_and_test_voices_are_disjoint(entries) -> None:
    dev, test = _voice_names(entries, "dev"), _voice_names(entries, "test")
    assert dev <= VOICES["dev"].names() and test <= VOICES["test"].names()
    assert not dev & test
    bases = {split: {n.split("+")[0] for n in _voice_names(entries, split)} for split in SPLITS}
    variants = {split: {n.split("+")[1] for n in _voice_names(entries, split)} for split in SPLITS}
    assert not bases["dev"] & bases["test"] and not variants["dev"] & variants["test"]
    old = {v.name for c in CONVERSATIONS.values() for v in c.voices.values()}
    assert not old & test  # the hand-written conversations the diarizer was first tuned on share no test voice
    assert len(dev) >= 40 and len(test) >= 40


def test_other_languages_read_english_and_their_own_text(entries) -> None:
    accented = [e for e in entries if e.conditions.language == "accented"]
    assert all(any(v.name.split("+")[0] in VOICES[e.split].foreign for v in e.conversation.voices.values())
               for e in accented)
    multilingual = [u.text for e in entries if e.conditions.language == "multilingual" for u in e.conversation.utterances]
    assert any("ü" in t or "é" in t or "ą" in t or "ñ" in t or "ö" in t for t in multilingual)
    english_only = [u.text for e in entries if e.conditions.language != "multilingual" for u in e.conversation.utterances]
    assert all(t.isascii() for t in english_only)


@pytest.mark.parametrize(("ratio", "bucket"), [(0.0, "0%"), (0.01, "0-5%"), (0.05, "5-10%"), (0.0999, "5-10%"),
                                               (0.1, "10-20%"), (0.3, "10-20%")])
def test_overlap_bucket(ratio: float, bucket: str) -> None:
    assert overlap_bucket(ratio) == bucket
