"""Shared fixtures: real audio and references that ship with pyannote.audio."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest


def _pyannote_sample_dir() -> Path:
    spec = importlib.util.find_spec("pyannote.audio")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("pyannote.audio is not installed (it ships the sample recording)")
    return Path(list(spec.submodule_search_locations)[0]) / "sample"


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
