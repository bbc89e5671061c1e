"""Giving freed memory back to the operating system (Linux C library calls; nothing elsewhere)."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
from typing import Any


@functools.cache
def libc() -> Any | None:
    """The process's C library (``None`` where it cannot be opened)."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c"))
    except OSError:
        return None


def return_freed_memory() -> None:
    """Collect garbage, then ask the allocator to hand its free pages back (glibc's ``malloc_trim``): after large
    objects such as models are dropped, the resident size falls instead of staying at its peak."""
    gc.collect()
    trim = getattr(libc(), "malloc_trim", None)
    if trim is not None:
        trim(0)
