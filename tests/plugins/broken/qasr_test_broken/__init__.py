"""A plugin whose dependency is missing: importing it fails."""

import qasr_test_missing_dependency  # noqa: F401
