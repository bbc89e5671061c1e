"""Shared fixtures: real audio and references that ship with pyannote.audio."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["bundled_models"]


def _pyannote_sample_dir() -> Path:
    spec = importlib.util.find_spec("pyannote.audio")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("pyannote.audio is not installed (it ships the sample recording)")
    return Path(next(iter(spec.submodule_search_locations))) / "sample"


@pytest.fixture(scope="session")
def sample_wav() -> Path:
    """pyannote.audio's bundled 30 s, two-speaker recording."""
    return _pyannote_sample_dir() / "sample.wav"


@pytest.fixture(scope="session")
def sample_rttm() -> Path:
    return _pyannote_sample_dir() / "sample.rttm"


@pytest.fixture(scope="session")
def sample_stm() -> Path:
    return _pyannote_sample_dir() / "sample.stm"


PLUGINS_DIR = Path(__file__).parent / "plugins"


def install_test_distribution(name: str, target: Path) -> Path:
    """``pip install --target`` one of ``tests/plugins/<name>`` (real metadata, real entry points)."""
    import subprocess
    import sys

    target.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--disable-pip-version-check", "--no-index", "--target", str(target), str(PLUGINS_DIR / name)],
                   check=True, capture_output=True)
    return target


@pytest.fixture(scope="session")
def plugin_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each test-only distribution installed into its own directory."""
    root = tmp_path_factory.mktemp("plugins")
    return {name: install_test_distribution(name, root / name) for name in ("good", "broken", "duplicate")}


@pytest.fixture()
def use_plugins(plugin_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch):
    """Put test-only distributions on sys.path for one test: ``use_plugins("good", "broken")``."""
    import sys

    from qasr_plugins import registry

    def activate(*names: str) -> None:
        for name in names:
            monkeypatch.syspath_prepend(str(plugin_dirs[name]))
        registry.refresh()

    yield activate
    monkeypatch.undo()
    for mod in [m for m in sys.modules if m.startswith("qasr_test_")]:
        del sys.modules[mod]
    registry.refresh()


@pytest.fixture()
def fake_plugins(use_plugins):
    """The fake stages (``fake.vad``, ``fake.diarization``, ``fake.asr``, ``fake.align``) usable from YAML."""
    use_plugins("good")


TEST_CONFIGS = Path(__file__).parent / "configs"


@pytest.fixture()
def fake_pipeline(fake_plugins, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``tests/configs/fake_full.yaml`` with the test presets on ``QASR_CONFIG_PATH``."""
    monkeypatch.setenv("QASR_CONFIG_PATH", str(TEST_CONFIGS))
    return TEST_CONFIGS / "fake_full.yaml"


# Tiny Qwen3 checkpoints (native and original layout, ASR and forced aligner), built once per test session.

@pytest.fixture(scope="session", autouse=True)
def qasr_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Converted checkpoints go to a throw-away cache; the hub is never contacted."""
    root = tmp_path_factory.mktemp("qasr-cache")
    saved = {key: os.environ.get(key) for key in ("QASR_CACHE", "HF_HUB_OFFLINE")}
    os.environ["QASR_CACHE"] = str(root)
    os.environ["HF_HUB_OFFLINE"] = "1"
    yield root
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True)
def stage_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's default stage cache is its own empty directory: no test reuses another's outputs."""
    root = tmp_path_factory.mktemp("stage-cache")
    monkeypatch.setenv("QASR_STAGE_CACHE", str(root))
    return root


def _tiny_checkpoint(name: str, kind: str, layout: str, doc: str) -> Any:
    """A session fixture ``name``: a tiny Qwen3 checkpoint of ``kind`` in ``layout``, built once."""

    @pytest.fixture(scope="session", name=name)
    def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
        from qasr_plugins.qwen3.tiny import build_tiny

        return build_tiny(tmp_path_factory.mktemp(name) / "checkpoint", kind=kind, layout=layout)  # type: ignore[arg-type]

    build.__doc__ = doc
    return build


tiny_asr = _tiny_checkpoint("tiny_asr", "asr", "native", "Tiny Qwen3-ASR in the native (-hf) layout.")
tiny_asr_original = _tiny_checkpoint("tiny_asr_original", "asr", "original",
                                     "The same tiny Qwen3-ASR weights in the original (qwen-asr) layout.")
tiny_aligner = _tiny_checkpoint("tiny_aligner", "forced_aligner", "native",
                                "Tiny Qwen3-ForcedAligner in the native layout.")
tiny_aligner_original = _tiny_checkpoint("tiny_aligner_original", "forced_aligner", "original",
                                         "The same tiny Qwen3-ForcedAligner weights in the original layout.")
