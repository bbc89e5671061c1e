"""Four small hand-written conversations, used by the offline tests and notebooks."""

from __future__ import annotations

from qasr_plugins.testing.synth.render import Conversation, Utterance, Voice

_ALICE = Voice("en-us+f3", pitch=70, speed=160)
_BOB = Voice("en-gb+m3", pitch=35, speed=170)
_CAROL = Voice("en-us+f4", pitch=55, speed=150)
_DAVE = Voice("en-us+m1", pitch=45, speed=175)

_DIALOGUE = (
    Utterance("alice", "Good morning, thanks for joining the call today.", 0.0),
    Utterance("bob", "Happy to be here. Shall we start with the budget?", 0.7),
    Utterance("alice", "Yes. The numbers for the third quarter came in last night.", 0.5),
    Utterance("bob", "And how do they look compared with the plan?", 0.9),
    Utterance("alice", "Slightly better than expected, mostly because travel costs went down.", 0.6),
    Utterance("bob", "That is good news. What about hiring?", 0.8),
    Utterance("alice", "We opened two positions, and the interviews start next week.", 0.5),
    Utterance("bob", "Great. Please send me the schedule when you have it.", 0.7),
)

CONVERSATIONS: dict[str, Conversation] = {
    "two_speakers": Conversation("two_speakers", {"alice": _ALICE, "bob": _BOB}, _DIALOGUE),
    "three_speakers": Conversation("three_speakers", {"alice": _ALICE, "bob": _BOB, "dave": _DAVE}, (
        Utterance("alice", "Welcome everyone, let us go around the table.", 0.0),
        Utterance("bob", "I finished the report on the new warehouse yesterday.", 0.6),
        Utterance("dave", "I read it this morning, and I have a few questions about the costs.", 0.8),
        Utterance("alice", "Let us keep those for the end of the meeting.", 0.5),
        Utterance("dave", "Fine by me. I will write them down.", 0.7),
        Utterance("bob", "The main point is that the rent doubles next year.", 0.6),
        Utterance("alice", "That is a big change. Do we have any alternatives?", 0.9),
        Utterance("dave", "There is an empty building near the station that might work.", 0.5),
        Utterance("bob", "I can visit it on Thursday and report back.", 0.6),
    )),
    "overlap": Conversation("overlap", {"carol": _CAROL, "dave": _DAVE}, (
        Utterance("carol", "Did you see the message about the server outage last night?", 0.0),
        Utterance("dave", "Yes, I was on call, it took three hours to bring it back.", 0.6),
        Utterance("carol", "Three hours is a long time for our customers.", 0.5),
        Utterance("dave", "I know, and the backup system did not start automatically.", -0.9),
        Utterance("carol", "We should test the failover every month from now on.", 0.7),
        Utterance("dave", "Agreed. I will put it in the calendar.", 0.6),
    )),
    "noisy": Conversation("noisy", {"alice": _ALICE, "bob": _BOB}, _DIALOGUE[:6], noise_snr_db=10.0, seed=7),
}
