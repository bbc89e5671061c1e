"""Qwen3 tests need transformers' native qwen3_asr; the tiny checkpoint fixtures live in tests/conftest.py."""

from __future__ import annotations

import pytest

pytest.importorskip("transformers.models.qwen3_asr", reason="transformers >= 5.13 with qwen3_asr is required")
