"""Loading Silero VAD leaves torch's thread count alone: silero_vad's first import sets it to 1 for the whole
process, which would leave every later stage of a pipeline (ASR, aligner, speaker encoder) on one core."""

from __future__ import annotations

import subprocess
import sys


def _threads_after_loading(setting: str) -> int:
    code = ("import torch; torch.set_num_threads(2)\n"
            "from qasr_plugins.stages.silero_vad import SileroVad\n"
            f"SileroVad({setting}).ensure_loaded(); print(torch.get_num_threads())")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    return int(result.stdout.split()[-1])


def test_loading_silero_keeps_torchs_threads() -> None:
    assert _threads_after_loading("") == 2


def test_the_threads_setting_still_sets_them() -> None:
    assert _threads_after_loading("threads=1") == 1
