"""The files a compile read: the inputs a bundle's provenance lists.

A :class:`ReadLog` records the sha256 of every file a :class:`~cfgc.repo.sources.Source`
hands out while it is attached, so the provenance names exactly what the
compiler read (layers, schemas, prompts, SOPS documents, cfgc.yaml, hygiene
rules) with the digest of the bytes it read, never a later re-read of the tree:
an output directory or a key file that happens to sit in the repo is not an
input unless the compile really read it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from cfgc.base.errors import ExternalError


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


def record_reads(source: Any) -> ReadLog:
    """Attach a new :class:`ReadLog` to ``source``: from now on every ``read`` is recorded.

    The source keeps its class (the build cache recognises working trees and
    commits by type); only this instance's ``read`` is wrapped.
    """
    log = ReadLog()
    inner = source.read

    def read(path: str) -> bytes:
        data: bytes = inner(path)
        log.record(path, data)
        return data

    source.read = read
    return log
