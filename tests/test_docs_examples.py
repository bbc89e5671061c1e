"""Every code block marked ``runnable`` in README.md and docs/*.md runs, so that examples cannot rot.

A block is marked by a second word in its fence's info string (```` ```python runnable ```` or
```` ```bash runnable ````). Blocks run in a scratch directory holding the files examples name: ``sample.wav`` with
its references ``sample.rttm``/``sample.stm`` (pyannote's bundled two-speaker call), the same audio as
``meeting.wav``, ``corpus/`` and ``more/*.flac``; ``qasr`` is this environment's command.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w+) runnable[^\n]*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Example:
    document: Path
    line: int
    language: str
    code: str

    @property
    def name(self) -> str:
        return f"{self.document.relative_to(ROOT)}:{self.line}"


def examples() -> list[Example]:
    found = []
    for document in DOCUMENTS:
        text = document.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            found.append(Example(document, text.count("\n", 0, match.start()) + 1, match[1], match[2]))
    return found


EXAMPLES = examples()


def test_the_docs_have_runnable_examples() -> None:
    assert {e.document.name for e in EXAMPLES} >= {"README.md"}
    assert all(e.language in ("python", "bash") for e in EXAMPLES), [e.name for e in EXAMPLES]


@pytest.fixture()
def scratch(tmp_path: Path, sample_wav: Path, sample_rttm: Path, sample_stm: Path) -> Path:
    import soundfile as sf

    for source in (sample_wav, sample_rttm, sample_stm):
        shutil.copy(source, tmp_path / source.name)
    shutil.copy(sample_wav, tmp_path / "meeting.wav")
    (tmp_path / "corpus").mkdir()
    shutil.copy(sample_wav, tmp_path / "corpus" / "call.wav")
    (tmp_path / "more").mkdir()
    audio, rate = sf.read(sample_wav, dtype="float32")
    sf.write(tmp_path / "more" / "short.flac", audio[: 10 * rate], rate)
    return tmp_path


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_example_runs(example: Example, scratch: Path) -> None:
    env = dict(os.environ, HF_HUB_OFFLINE="1", PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    if example.language == "python":
        command = [sys.executable, "-c", example.code]
    else:
        command = ["bash", "-euo", "pipefail", "-c", example.code]
    result = subprocess.run(command, cwd=scratch, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, f"{example.name} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
