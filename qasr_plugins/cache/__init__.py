"""The content-addressed stage cache: a node's output is reused when nothing it depends on changed.

See :mod:`qasr_plugins.cache.keys` for what a key covers and :mod:`qasr_plugins.cache.store` for the entries.
"""

from qasr_plugins.cache.keys import RecordingId, node_key, output_digest, stage_identity
from qasr_plugins.cache.store import CacheInfo, PruneResult, StageCache, default_cache_dir, open_cache

__all__ = ["CacheInfo", "PruneResult", "RecordingId", "StageCache", "default_cache_dir", "node_key",
           "open_cache", "output_digest", "stage_identity"]
