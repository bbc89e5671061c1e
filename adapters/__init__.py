"""Bridges to other ecosystems (NeMo, pyannote): conversions and facades, imported on demand."""
