"""scripts/setup.sh on a machine that already has everything: no package manager runs, nothing asks for root."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(any(shutil.which(p) is None for p in ("ffmpeg", "sox", "espeak-ng")),
                    reason="the system programs setup.sh installs are not all present")
def test_a_second_setup_does_no_system_or_network_work(tmp_path: Path) -> None:
    stubs = tmp_path / "bin"
    stubs.mkdir()
    marker = tmp_path / "called"
    for tool in ("apt-get", "sudo"):
        stub = stubs / tool
        stub.write_text(f"#!/bin/sh\necho {tool} \"$@\" >> {marker}\nexit 1\n")
        stub.chmod(0o755)
    env = dict(os.environ, PATH=f"{stubs}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run(["bash", str(ROOT / "scripts" / "setup.sh")], capture_output=True, text=True, env=env,
                            check=False, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    assert not marker.exists(), marker.read_text()
    assert result.stdout.strip().splitlines()[-1].startswith("setup: ready")
