"""Giving the memory of a replaced version back to the operating system.

A new version is fetched and verified while the old one is served, so for a
moment both are in memory, plus the whole bundle manifest parsed for
verification (about 10x its bytes).  CPython frees those objects, but glibc's
malloc keeps freed chunks inside its heap: without a trim the process stays at
that peak (measured with benchmarks/agent_memory.py: 110 MB instead of 50 MB
after a swap, serving 250 of 10,000 targets).  ``malloc_trim(0)`` returns the
free pages; it is called once per swap, off the request path, and skipped
where libc has no ``malloc_trim`` (musl, macOS).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
from collections.abc import Callable

import orjson

_trim: Callable[[int], int] | None = None
_looked_up = False
M_MMAP_THRESHOLD = -3  # mallopt parameter number (malloc.h)
MMAP_THRESHOLD = 128 * 1024  # glibc's initial value, kept fixed
M_ARENA_MAX = -8


def prepare_allocator() -> None:
    """What a long-running process does once, at start, before it starts a thread or fetches.

    * orjson allocates an 8 MB parse buffer on its first ``loads`` and keeps it for the life of
      the process; small documents touch only its first pages.  Allocated now, it is a fresh map
      that stays mostly unbacked.  Allocated first after a version was verified, malloc carved it
      out of the heap pages the manifest's parse had just freed and dirtied, and all 8 MB stayed
      resident (benchmarks/agent_memory.py: 50 MB instead of 42 MB at ready serving 250 of
      10,000 targets).
    * glibc's mmap threshold stays at 128 KiB.  glibc raises it to the size of any mmap'd block
      freed (up to 32 MB): after the first fetch freed the manifest and signature documents, later
      large blocks came from the heap, scattered among small ones, where no trim returns them
      (default allocator: 90 MB instead of 75 MB at ready serving 10,000 targets).  Fixed, every
      block of 128 KiB or more is its own map, unmapped when freed.
    * One malloc arena: the polling thread otherwise gets an arena of its own, where the few
      objects a fetch keeps pin pages among its garbage, and ``malloc_trim`` cannot shrink the top
      of a thread's arena (2 MB less after a sweep and after a swap, in both cases above).  The
      GIL serialises the threads' allocations anyway.
    """
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to tune
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        libc.mallopt(M_ARENA_MAX, 1)
    orjson.loads(b"0")


def release_memory() -> None:
    """Collect garbage, then return free heap pages to the OS (glibc only)."""
    global _trim, _looked_up
    gc.collect()
    if not _looked_up:
        _looked_up = True
        try:
            _trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _trim = None
    if _trim is not None:
        _trim(0)
