"""The target bytes of one version, packed into one anonymous memory map.

Fetching a version allocates each file as its own ``bytes`` (2-3 KB each, on
glibc's heap), interleaved with the whole manifest parsed for verification.
Kept like that, 10,000 targets pin the heap pages around them and the process
stays near its peak after the swap (measured with benchmarks/agent_memory.py:
95 MB instead of 72 MB serving 28 MB of targets).  Copied into one map, the
heap is free again after the swap (see runtime/memory.py), and the map is
returned to the OS whole (``munmap``) when the version is dropped.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator, Mapping


class PackedFiles(Mapping[str, bytes]):
    """A read-only ``path -> bytes`` mapping; the ``packed`` paths live in one map, the rest as they are."""

    def __init__(self, files: Mapping[str, bytes], packed: frozenset[str]) -> None:
        self._small = {k: v for k, v in files.items() if k not in packed}
        size = sum(len(files[k]) for k in packed)
        self._map = mmap.mmap(-1, max(size, 1))
        self._view = memoryview(self._map)
        self._spans: dict[str, tuple[int, int]] = {}
        at = 0
        for k in packed:
            data = files[k]
            self._map[at:at + len(data)] = data
            self._spans[k] = (at, at + len(data))
            at += len(data)

    def view(self, path: str) -> memoryview:
        """The bytes of ``path`` without a copy (valid while this mapping is alive); KeyError if absent."""
        span = self._spans.get(path)
        if span is None:
            return memoryview(self._small[path])
        return self._view[span[0]:span[1]]

    def __getitem__(self, path: str) -> bytes:
        span = self._spans.get(path)
        if span is None:
            return self._small[path]
        return bytes(self._view[span[0]:span[1]])

    def __contains__(self, path: object) -> bool:
        return path in self._spans or path in self._small

    def __iter__(self) -> Iterator[str]:
        yield from self._spans
        yield from self._small

    def __len__(self) -> int:
        return len(self._spans) + len(self._small)
