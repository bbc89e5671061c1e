"""Shared Qwen3-ASR / Qwen3-ForcedAligner support: checkpoint loading, layout conversion, tiny test checkpoints
and language names. Submodules import torch/transformers lazily; importing this package stays light."""
