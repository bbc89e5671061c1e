"""What the Qwen3 benchmarks share: the recording, a scripted end of answer for random weights, machine load.

Random weights never emit an end token, so without help every segment decodes ``max_new_tokens`` tokens whatever
its length, which hides what padding and static batching cost. :class:`ScriptedEnd` is a logits processor that
forces ``<|im_end|>`` once a row has decoded ``tokens_per_second`` × its speech length tokens; the length is read
from the row's own prompt (its ``<|audio_pad|>`` placeholders, about 13 per second), so it needs no knowledge of how
a method orders or batches segments. :func:`script_generate` wraps a model's ``generate`` with it (the naive loop,
the official package) and :func:`script_decode` ``qwen3.asr``'s own decoding loop — every method is stopped the same
way.

Module-level imports stay within the standard library and numpy so that the official package's worker (another
Python) can import this file.
"""

from __future__ import annotations

import os
import resource
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
REFERENCE = Path("/work/shared/reference/qwen3")
AUDIO_PAD_ID = 151676
IM_END_ID = 151645
#: Encoder tokens per second of audio (30 s give 390).
AUDIO_TOKENS_PER_SECOND = 13.0
#: 1-minute load average above which a machine with two cores counts as busy (override with ``--allow-busy``).
BUSY_LOAD = 1.5


def peak_mb() -> float:
    """Peak resident memory of this process (VmHWM; ru_maxrss would include the parent's peak after fork)."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sample_wav() -> Path:
    try:
        import pyannote.audio

        return Path(pyannote.audio.__file__).parent / "sample" / "sample.wav"
    except ImportError:
        site = REPO / ".venv" / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
        return site / "pyannote" / "audio" / "sample" / "sample.wav"


def recording(minutes: float) -> np.ndarray:
    """``minutes`` of audio: pyannote's 30 s sample tiled."""
    import soundfile

    wave, _ = soundfile.read(str(sample_wav()), dtype="float32")
    return np.resize(wave, int(minutes * 60 * 16000)).astype(np.float32)


def vad_like_regions(minutes: float, seed: int = 0) -> list[tuple[float, float]]:
    """Speech regions of 4–16 s separated by 0.4 s pauses."""
    rng = np.random.default_rng(seed)
    regions, start = [], 0.2
    while start < minutes * 60 - 1.0:
        end = min(start + float(rng.uniform(4.0, 16.0)), minutes * 60)
        regions.append((round(start, 3), round(end, 3)))
        start = end + 0.4
    return regions


class ScriptedEnd:
    """Force ``<|im_end|>`` once a row has decoded ``max(1, round(rate × its audio seconds))`` tokens.

    One instance per ``generate`` call: the first call fixes the prompt length and each row's target.
    ``decoded`` is the number of tokens the rows were allowed (their end token included).
    """

    def __init__(self, rate: float, end_id: int = IM_END_ID) -> None:
        self.rate = rate
        self.end_id = end_id
        self.prompt_length: int | None = None
        self.targets: list[int] = []

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if self.prompt_length is None:
            self.prompt_length = int(input_ids.shape[1])
            pads = (input_ids == AUDIO_PAD_ID).sum(-1).tolist()
            self.targets = [max(1, round(self.rate * n / AUDIO_TOKENS_PER_SECOND)) for n in pads]
        done = int(input_ids.shape[1]) - self.prompt_length
        for row, target in enumerate(self.targets):
            if done >= target:
                scores[row] = float("-inf")
                scores[row, self.end_id] = 0.0
        return scores

    @property
    def decoded(self) -> int:
        return sum(target + 1 for target in self.targets)


@dataclass
class Scripted:
    """The scripted ends of every ``generate`` call of one model."""

    rate: float
    calls: int = 0
    decoded: int = 0


def script_generate(model: Any, rate: float) -> Scripted:
    """Make ``model.generate`` (this instance) stop each row at its scripted length; returns the running count."""
    from transformers import LogitsProcessorList

    original = model.generate
    counts = Scripted(rate)

    def generate(*args: Any, **kwargs: Any) -> Any:
        script = ScriptedEnd(rate)
        kwargs["logits_processor"] = LogitsProcessorList([script, *(kwargs.get("logits_processor") or [])])
        output = original(*args, **kwargs)
        counts.calls += 1
        counts.decoded += script.decoded
        return output

    model.generate = generate
    return counts


def script_decode(rate: float) -> Scripted:
    """Make ``qwen3.asr``'s decoding (:func:`qasr_plugins.qwen3.decode.greedy_decode`) stop each row at its
    scripted length; returns the running count."""
    from qasr_plugins.qwen3 import decode

    original = decode.greedy_decode
    counts = Scripted(rate)

    def greedy_decode(model: Any, inputs: Any, **kwargs: Any) -> Any:
        script = ScriptedEnd(rate)
        kwargs["processors"] = [script, *kwargs.get("processors", ())]
        output = original(model, inputs, **kwargs)
        counts.calls += 1
        counts.decoded += script.decoded
        return output

    decode.greedy_decode = greedy_decode
    return counts


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def busy(loads: list[float], limit: float = BUSY_LOAD) -> bool:
    """Whether any 1-minute load average noted before a method ran exceeds ``limit``."""
    return any(load > limit for load in loads)
