"""The offline tests run the real bundled models (fixtures in ``tests/bundled_models.py``)."""

from __future__ import annotations

from bundled_models import require_offline

require_offline()
