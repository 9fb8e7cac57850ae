"""The files of one version in one private anonymous memory map, indexed without per-file objects.

Why: a version of 10,000 targets kept as 10,000 ``bytes`` objects, a dict of
their paths, a tuple of their names and a snapshot object per target is
some 50,000 small objects.  Allocated while the manifest parsed to verify
the version was alive, they pin most of the allocator's pages that parse
used, so an agent stayed near its peak after every swap (measured with
benchmarks/agent_memory.py: 103 MB after a swap serving 28 MB of targets,
87 MB before it).  Here a version is a handful of large objects: the map
(returned to the OS whole, ``munmap``, when the version is dropped), one
string of all paths and three integer arrays (:class:`StringTable`).

The map is ``MAP_PRIVATE`` anonymous memory: it counts in ``RssAnon`` of
/proc/PID/status, like the heap, and is never written back anywhere.
Lookups hash the key and bisect an array of hashes: about a microsecond,
paid only when a response is not already prepared.
"""

from __future__ import annotations

import mmap
import os
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import overload

from cfgc.base.errors import IntegrityError


class StringTable(Sequence[str]):
    """An immutable sequence of strings in one ``str``, with ``index``/``in`` by hash (no per-item objects)."""

    __slots__ = ("_blob", "_hashes", "_order", "_starts")

    def __init__(self, items: Iterable[str]) -> None:
        items = list(items)
        self._blob = "".join(items)
        self._starts = array("Q", [0])
        for s in items:
            self._starts.append(self._starts[-1] + len(s))
        keyed = sorted((hash(s), i) for i, s in enumerate(items))
        self._hashes = array("q", (h for h, _ in keyed))
        self._order = array("Q", (i for _, i in keyed))

    def __len__(self) -> int:
        return len(self._starts) - 1

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[str]: ...

    def __getitem__(self, i: int | slice) -> str | Sequence[str]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError("StringTable index out of range")
        return self._blob[self._starts[i]:self._starts[i + 1]]

    def find(self, s: str) -> int:
        """The position of ``s``, or -1."""
        h = hash(s)
        at = bisect_left(self._hashes, h)
        while at < len(self._hashes) and self._hashes[at] == h:
            i = self._order[at]
            if self._blob[self._starts[i]:self._starts[i + 1]] == s:
                return i
            at += 1
        return -1

    def __contains__(self, s: object) -> bool:
        return isinstance(s, str) and self.find(s) >= 0

    def __iter__(self) -> Iterator[str]:
        blob, starts = self._blob, self._starts
        for i in range(len(starts) - 1):
            yield blob[starts[i]:starts[i + 1]]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StringTable | tuple | list):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    # Unhashable like the list it compares equal to; typeshed declares __hash__ a method, hence the ignore.
    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"StringTable({len(self)} items)"


class PackedFiles(Mapping[str, bytes]):
    """A read-only ``path -> bytes`` mapping over one map (built by :class:`PackWriter`)."""

    __slots__ = ("__weakref__", "_ends", "_map", "_paths", "_view")

    def __init__(self, paths: StringTable, ends: array[int], data: mmap.mmap) -> None:
        self._paths = paths
        self._ends = ends
        self._map = data
        self._view = memoryview(data)

    @classmethod
    def of(cls, files: Mapping[str, bytes]) -> PackedFiles:
        """Pack a mapping (a copy of every value)."""
        w = PackWriter(sum(len(v) for v in files.values()))
        for path, data in files.items():
            w.add(path, data)
        return w.finish()

    @property
    def ends(self) -> array[int]:
        """Where each file ends in the map, in path order."""
        return self._ends

    def data(self) -> memoryview:
        """All the files' bytes, in path order (valid while this mapping is alive)."""
        return self._view[:self._ends[-1] if len(self._ends) else 0]

    def _span(self, path: str) -> tuple[int, int] | None:
        i = self._paths.find(path)
        if i < 0:
            return None
        return (self._ends[i - 1] if i else 0), self._ends[i]

    def view(self, path: str) -> memoryview:
        """The bytes of ``path`` without a copy (valid while this mapping is alive); KeyError if absent."""
        span = self._span(path)
        if span is None:
            raise KeyError(path)
        return self._view[span[0]:span[1]]

    def __getitem__(self, path: str) -> bytes:
        span = self._span(path)
        if span is None:
            raise KeyError(path)
        return self._map[span[0]:span[1]]

    def __contains__(self, path: object) -> bool:
        return path in self._paths

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


class PackWriter:
    """Fills a map of ``total`` bytes with files, in order; ``finish()`` gives the mapping.

    With ``fd``, the map is that file (sized to ``total``, shared): a verifying child fills a
    memfd the agent then maps (runtime/isolate.py), so the version's bytes are never copied.
    """

    def __init__(self, total: int, fd: int | None = None) -> None:
        if fd is None:
            self._map = mmap.mmap(-1, max(total, 1), flags=mmap.MAP_PRIVATE)
        else:
            os.ftruncate(fd, max(total, 1))
            self._map = mmap.mmap(fd, max(total, 1), flags=mmap.MAP_SHARED)
        self._total = total
        self._paths: list[str] = []
        self._ends = array("Q")
        self._at = 0
        # The verified digest of each file, in order (None: not given): what the files are checked
        # against again once the memfd is sealed (runtime/forked.py), as no copy holds the map.
        self.digests: list[str | None] = []

    def add(self, path: str, data: bytes | memoryview, digest: str | None = None) -> None:
        """Append ``path`` (each path once), whose bytes verified as ``digest``; more bytes than announced is an IntegrityError."""
        end = self._at + len(data)
        if end > self._total:
            raise IntegrityError(f"{path}: the files are larger than the {self._total} bytes the manifest gives")
        self._map[self._at:end] = data
        self._paths.append(path)
        self._ends.append(end)
        self.digests.append(digest)
        self._at = end

    def finish(self) -> PackedFiles:
        return PackedFiles(StringTable(self._paths), self._ends, self._map)


Writer = Callable[[int], PackWriter]  # how a fetch makes the map for a version of so many bytes
