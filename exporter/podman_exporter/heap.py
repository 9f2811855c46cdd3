"""The process's heap: large blocks mapped apart, freed memory returned to the system.

glibc only (``mallopt``, ``malloc_trim``); where the C library lacks them (musl, macOS)
both are no-ops. Measured in docs/performance.md and docs/performance-endpoints.md.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

LARGE_BLOCK = 1 << 20
"""Bytes from which a block gets its own mapping (the served bodies, gzip forms, large
replies): given back to the system as soon as it is freed."""
_M_MMAP_THRESHOLD = -3
"""glibc's mallopt parameter number of the mapping threshold."""
log = logging.getLogger(__name__)


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c"))
    except (OSError, TypeError):
        return None


_LIBC = _libc()


def map_large_blocks(size: int = LARGE_BLOCK) -> bool:
    """Make every block of ``size`` bytes or more a mapping of its own; return whether
    the C library took it.

    glibc's threshold is otherwise dynamic: once a large mapped block is freed, blocks
    up to that size come from the heaps, and every thread that joins or compresses a
    body has a heap (arena) of its own that keeps them. Measured at 50 endpoints x 100
    containers, scraped plain and gzip: RSS 251 MiB with the dynamic threshold, 97 MiB
    with this one.
    """
    mallopt = getattr(_LIBC, "mallopt", None)
    if mallopt is None:
        return False
    taken = bool(mallopt(_M_MMAP_THRESHOLD, size))
    if not taken:
        log.debug("mallopt(M_MMAP_THRESHOLD) refused")
    return taken


def trim() -> None:
    """Give the free memory at the top of every heap back to the system (the replies,
    records and sample lines a collection frees: about 10 MB at 1,000 containers)."""
    malloc_trim = getattr(_LIBC, "malloc_trim", None)
    if malloc_trim is not None:
        malloc_trim(0)
