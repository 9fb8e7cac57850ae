"""The files a compile read: the inputs a bundle's provenance lists.

A :class:`ReadLog` records the sha256 of every file a :class:`RecordingSource`
hands out, so the provenance names exactly what the
compiler read (layers, schemas, prompts, SOPS documents, cfgc.yaml, hygiene
rules) with the digest of the bytes it read, never a later re-read of the tree:
an output directory or a key file that happens to sit in the repo is not an
input unless the compile really read it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from cfgc.base.errors import ExternalError
from cfgc.repo.sources import Source, SourceInfo


class ReadLog:
    """``path -> sha256:<hex>`` of every file read through a source, in read order."""

    def __init__(self) -> None:
        self._digests: dict[str, str] = {}

    def record(self, path: str, data: bytes) -> None:
        """Note that ``path`` was read with these bytes."""
        self.merge([(path, "sha256:" + hashlib.sha256(data).hexdigest())])

    def merge(self, entries: Iterable[tuple[str, str]]) -> None:
        """Add entries recorded elsewhere (by a build worker process)."""
        for path, digest in entries:
            seen = self._digests.setdefault(path, digest)
            if seen != digest:
                # Two reads disagree: a provenance could name neither honestly.
                raise ExternalError(f"{path} changed while cfgc was building; build again")

    def mark(self) -> int:
        """A position to pass to :meth:`since`."""
        return len(self._digests)

    def since(self, mark: int) -> list[tuple[str, str]]:
        """Entries recorded after ``mark`` (dicts keep insertion order)."""
        return list(self._digests.items())[mark:]

    def get(self, path: str) -> str | None:
        """The digest recorded for ``path``, if it was read."""
        return self._digests.get(path)

    def __contains__(self, path: object) -> bool:
        return path in self._digests

    def digests(self) -> dict[str, str]:
        """Every recorded file with its digest, sorted by path."""
        return dict(sorted(self._digests.items()))


class RecordingSource:
    """A :class:`~cfgc.repo.sources.Source` that records in ``log`` every file read through it.

    The build cache keys a file by what the source is (a working tree's stat
    stamps, a commit's blob ids), so it looks through the wrapper with
    :func:`unwrapped`; it hands the compiler bytes it kept, and the compiler
    then reads them through here, so they are recorded too.
    """

    __slots__ = ("inner", "log")

    def __init__(self, inner: Source, log: ReadLog) -> None:
        self.inner = inner
        self.log = log

    def files(self) -> list[str]:
        return self.inner.files()

    def read(self, path: str) -> bytes:
        data = self.inner.read(path)
        self.log.record(path, data)
        return data

    def info(self) -> SourceInfo:
        return self.inner.info()


def unwrapped(source: Source) -> Source:
    """``source`` itself, or the source a :class:`RecordingSource` records."""
    while isinstance(source, RecordingSource):
        source = source.inner
    return source
