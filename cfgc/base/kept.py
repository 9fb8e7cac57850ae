"""What was parsed from a small file, kept by the digest of its bytes.

An in-place rebuild of one changed file (``cfgc build`` into the same
``--out``) reads files again that have not changed since the last build:
``.sops.yaml`` (parsed with PyYAML), ``cfgc.yaml`` (its source positions come
from PyYAML's careful path) and the layer files the fast path declines (SOPS
files: their ``enc: |`` block scalars).  Importing PyYAML and parsing them
costs about 30 ms of a ~0.3 s rebuild.  A :class:`Kept` holds the parsed
values, as JSON text, by the sha256 of the very bytes they were parsed from;
the build stores them in the authenticated state of its ``--out``
(:mod:`cfgc.bundle.outstate`) and hands them to the next process, which takes a
value only for bytes with the same digest: a changed file is always parsed
again.  Each :meth:`Kept.get` gives a fresh value (callers may change it).

Only values JSON gives back exactly are held (mappings with string keys,
lists, strings, 64-bit ints, finite floats, booleans, null: not dates, bytes
or tagged values), nested at most :data:`MAX_DEPTH` deep, from files of at
most :data:`MAX_KEPT_BYTES` whose JSON is at most as long, and at most
:data:`MAX_ENTRIES` per :class:`Kept`: at most 4 MiB each, so the state a
hostile repo makes a build write stays small.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Collection, Mapping
from typing import Any

MAX_KEPT_BYTES = 256 * 1024  # a larger file (or value) is parsed every time, never kept
MAX_ENTRIES = 16  # per Kept; the oldest goes first (a long-lived process may meet many repos)
MAX_DEPTH = 100
_DIGEST_CHARS = 64
_INT_MAX = (1 << 63) - 1


def digest(raw: bytes) -> str:
    """The key of ``raw``: its sha256, hex."""
    return hashlib.sha256(raw).hexdigest()


class Kept:
    """Parsed values by the digest of their file's bytes (see the module docstring)."""

    def __init__(self, evict: bool = True, distinct: bool = False) -> None:
        # evict=False: once full, keep what is there and ignore the rest, so a
        # repo of many such files pays for at most MAX_ENTRIES encodings.
        # distinct=True: keep only values with no object at two places (see :func:`distinct`).
        self._by: dict[str, str] = {}
        self._evict = evict
        self._distinct = distinct

    def get(self, raw: bytes) -> Any | None:
        """A fresh copy of the value kept for exactly these bytes, or None."""
        text = self._by.get(digest(raw)) if len(raw) <= MAX_KEPT_BYTES else None
        return None if text is None else json.loads(text)

    def put(self, raw: bytes, value: Any) -> None:
        """Keep ``value`` as what ``raw`` parses to (ignored unless JSON keeps it exactly, within the bounds)."""
        if ((self._evict or len(self._by) < MAX_ENTRIES) and len(raw) <= MAX_KEPT_BYTES and plain(value)
                and (not self._distinct or distinct(value))):
            text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
            if len(text) <= MAX_KEPT_BYTES:
                self._keep(digest(raw), text)

    def clear(self) -> None:
        """Forget everything (a process that builds many repos, or a test that needs a fresh start)."""
        self._by.clear()

    def kept(self, current: Collection[str] | Callable[[str], bool]) -> dict[str, str]:
        """The JSON texts kept for files still current (digest in ``current``, or ``current(digest)``), to store them."""
        test = current if callable(current) else current.__contains__
        return {d: v for d, v in self._by.items() if test(d)}

    def assume(self, known: Any) -> None:
        """Take what :meth:`kept` gave an earlier process, read back from authenticated storage."""
        if not isinstance(known, Mapping):
            return
        for d, text in known.items():
            if isinstance(d, str) and len(d) == _DIGEST_CHARS and isinstance(text, str) and len(text) <= MAX_KEPT_BYTES:
                self._keep(d, text)

    def _keep(self, key: str, text: str) -> None:
        self._by.pop(key, None)
        if not self._evict and len(self._by) >= MAX_ENTRIES:
            return
        while len(self._by) >= MAX_ENTRIES:
            del self._by[next(iter(self._by))]
        self._by[key] = text


def distinct(value: Any, seen: set[int] | None = None) -> bool:
    """True if no container or string (longer than one character: shorter ones are shared
    singletons) is at two places of ``value``.  A YAML alias is one object wherever it
    appears, and the credential scan relies on that to report it once; JSON gives back a
    copy at each place, so a value with an alias must not be kept."""
    seen = set() if seen is None else seen
    t = type(value)
    if t is dict or t is list or (t is str and len(value) > 1):
        if id(value) in seen:
            return False
        seen.add(id(value))
    if t is dict:
        return all(distinct(v, seen) for v in value.values())
    if t is list:
        return all(distinct(v, seen) for v in value)
    return True


def plain(value: Any, depth: int = 0) -> bool:
    """True if JSON gives ``value`` back exactly (same types, same values)."""
    t = type(value)
    if t is dict:
        return depth < MAX_DEPTH and all(type(k) is str and plain(v, depth + 1) for k, v in value.items())
    if t is list:
        return depth < MAX_DEPTH and all(plain(v, depth + 1) for v in value)
    if t is float:
        return math.isfinite(value)
    if t is int:
        return bool(-_INT_MAX - 1 <= value <= _INT_MAX)
    return t in (str, bool, type(None))
