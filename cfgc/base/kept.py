"""What was parsed from a small file, kept by the digest of its bytes.

An in-place rebuild of one changed file (``cfgc build`` into the same
``--out``) reads a few global files again that have not changed since the
last build: ``.sops.yaml`` (parsed with PyYAML) and ``cfgc.yaml`` (its
source positions come from PyYAML's careful path).  Importing PyYAML and
parsing them costs about 30 ms of a ~0.3 s rebuild.  A :class:`Kept` holds
the parsed values by the sha256 of the very bytes they were parsed from;
the build stores them in the authenticated state of its ``--out``
(:mod:`cfgc.bundle.outstate`) and hands them to the next process, which
takes a value only for bytes with the same digest: a changed file is always
parsed again.

Only values JSON keeps exactly are held (mappings with string keys, lists,
strings, ints, finite floats, booleans, null: not dates, bytes or tagged
values, which JSON would turn into something else), nested at most
:data:`MAX_DEPTH` deep, from files of at most :data:`MAX_KEPT_BYTES`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Collection, Mapping
from typing import Any

MAX_KEPT_BYTES = 1 << 20  # a larger file is parsed every time, never kept
MAX_ENTRIES = 64  # per Kept; the oldest goes first (a long-lived process may meet many repos)
MAX_DEPTH = 100
_DIGEST_CHARS = 64


def digest(raw: bytes) -> str:
    """The key of ``raw``: its sha256, hex."""
    return hashlib.sha256(raw).hexdigest()


class Kept:
    """Parsed values by the digest of their file's bytes (see the module docstring)."""

    def __init__(self) -> None:
        self._by: dict[str, Any] = {}

    def get(self, raw: bytes) -> Any | None:
        """The value kept for exactly these bytes, or None."""
        return self._by.get(digest(raw)) if len(raw) <= MAX_KEPT_BYTES else None

    def put(self, raw: bytes, value: Any) -> None:
        """Keep ``value`` as what ``raw`` parses to (ignored unless JSON keeps it exactly)."""
        if len(raw) <= MAX_KEPT_BYTES and plain(value):
            self._keep(digest(raw), value)

    def _keep(self, key: str, value: Any) -> None:
        self._by.pop(key, None)
        while len(self._by) >= MAX_ENTRIES:
            del self._by[next(iter(self._by))]
        self._by[key] = value

    def kept(self, digests: Collection[str]) -> dict[str, Any]:
        """The values kept for files whose digest is in ``digests`` (to store them)."""
        return {d: v for d, v in self._by.items() if d in digests}

    def assume(self, known: Any) -> None:
        """Take values :meth:`kept` gave to an earlier process, read back from authenticated storage."""
        if not isinstance(known, Mapping):
            return
        for d, value in known.items():
            if isinstance(d, str) and len(d) == _DIGEST_CHARS and plain(value):
                self._keep(d, value)


def plain(value: Any, depth: int = 0) -> bool:
    """True if JSON gives ``value`` back exactly (same types, same values)."""
    t = type(value)
    if t is dict:
        return depth < MAX_DEPTH and all(type(k) is str and plain(v, depth + 1) for k, v in value.items())
    if t is list:
        return depth < MAX_DEPTH and all(plain(v, depth + 1) for v in value)
    if t is float:
        return math.isfinite(value)
    return t in (str, int, bool, type(None))
