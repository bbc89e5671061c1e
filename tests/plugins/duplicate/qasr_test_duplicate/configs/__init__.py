"""Presets and pipelines whose names other distributions ship too."""
