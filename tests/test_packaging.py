"""The wheel ships the YAML under configs/ and pipelines/, found by name from a normal (non-editable) install."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import shutil

    out = tmp_path_factory.mktemp("wheel")
    # Build from a copy: an in-tree build leaves build metadata (an egg-info) in the checkout.
    source = out / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", "*.egg-info", "build", "out",
                                                                 "__pycache__", ".pytest_cache"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "--disable-pip-version-check", "-w", str(out), str(source)], check=True, capture_output=True)
    return next(out.glob("qasr_plugins-*.whl"))


def test_wheel_contains_packages_and_yaml(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "qasr_plugins/pipelines/vad.yaml" in names
    assert "qasr_plugins/configs/stages/vad/silero.yaml" in names
    assert "qasr_plugins/configs/pyannote/offline/config.yaml" in names  # for pyannote's from_pretrained
    assert "qasr_plugins/adapters/__init__.py" in names
    assert not any(n.startswith(("adapters/", "pipelines/", "configs/", "tests/")) for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[qasr.vad]" in text and "silero.vad = qasr_plugins.stages.silero_vad:SileroVad" in text
    assert "qasr = qasr_plugins.cli:main" in text


def test_normal_install_finds_pipelines_by_name(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    "--disable-pip-version-check", "--target", str(target), str(wheel)], check=True,
                   capture_output=True)
    import sysconfig

    # -S: no site processing, so the editable install's path hook stays out; dependencies come from site-packages,
    # appended after the standard library.
    probe = (f"import sys; sys.path.insert(0, {str(target)!r}); sys.path.append({sysconfig.get_paths()['purelib']!r});"
             "import qasr_plugins.graph as g; spec = g.load_pipeline('vad', ['stages/vad=energy']);"
             "print(g.packaged_pipelines_dir()); print(spec.nodes[0].stage_name)")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-S", "-c", probe], capture_output=True, text=True, env=env, check=True)
    where, stage = out.stdout.split()
    assert Path(where).is_relative_to(target) and stage == "energy.vad"
