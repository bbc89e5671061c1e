"""The offline tests run the real bundled models (fixtures in ``tests/bundled_models.py``): every test here is
marked ``slow``, so ``pytest -m "not slow"`` gives a quick loop."""

from __future__ import annotations

from pathlib import Path

import pytest
from bundled_models import require_offline

require_offline()

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.slow)
