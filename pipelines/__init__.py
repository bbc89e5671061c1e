"""Ready-made pipelines (YAML), addressed by name: ``qasr run vad ...``."""
