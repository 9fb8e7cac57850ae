"""Patch the bytes of a manifest instead of parsing and re-encoding all of it.

An in-place rebuild that changes a few targets rewrites only their entries
and the ``source`` section of ``manifest.json``.  Canonical JSON is
compositional (sorted keys, no whitespace: an object's bytes are ``{``, its
members' ``"key":value`` bytes joined by ``,``, and ``}``), so replacing the
bytes of one member's value by the canonical bytes of its new value gives
exactly the canonical bytes of the patched manifest.  That needs to know where
each value lies: :func:`spans` finds it once, after a full build, by encoding
each entry on its own and comparing the result with the written bytes (any
difference, and no spans are kept: the caller parses and re-encodes, the slow
path).  The spans live in the authenticated out state, and they are only used
on bytes whose sha256 is the digest recorded with them, so they always point
at what they say.  ``tests/unit/bundle/test_splice.py`` compares the patched
bytes with :func:`cfgc.base.canonical.canonical_json` of the patched manifest.

At 10,000 targets, parsing the 3 MB manifest, walking it for floats and
encoding it again took about 0.1 s of a 1 s one-file rebuild; a splice is a
few milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

_SOURCE = b',"source":'
_TARGETS = b',"targets":'


def spans(raw: bytes, manifest: Mapping[str, Any]) -> list[int] | None:
    """Where ``source`` and each target's entry lie in ``raw`` (the canonical bytes of ``manifest``).

    ``[source start, source end, start and end of each target's entry in name
    order]``, or None when the layout is not the one expected (``source`` and
    ``targets`` the last two sections) or the bytes do not match.

    The bytes are checked from the end, one entry at a time, in place
    (``startswith`` at an offset copies nothing): building the expected tail
    whole and comparing it held four copies of the 3 MB manifest at once
    (25 MB peak at 10,000 targets, the peak of the whole build).
    """
    if sorted(manifest)[-2:] != ["source", "targets"]:
        return None
    targets = manifest["targets"]
    names = sorted(targets)
    dumps, sort_keys = orjson.dumps, orjson.OPT_SORT_KEYS
    if not raw.endswith(b"}}"):
        return None
    pos = len(raw) - 2  # just past the last entry's value
    backwards: list[int] = []
    try:
        for i in range(len(names) - 1, -1, -1):
            value = dumps(targets[names[i]], option=sort_keys)
            start = pos - len(value)
            key = dumps(names[i]) + b":"
            at = start - len(key)
            # Entries are joined by ",", the first follows the "{" checked below.
            if at < 1 or not raw.startswith(value, start) or not raw.startswith(key, at):
                return None
            backwards += (pos, start)
            pos = at - 1 if i else at
            if i and raw[pos : pos + 1] != b",":
                return None
        source = dumps(manifest["source"], option=sort_keys)
    except TypeError:
        return None
    if raw[pos - 1 : pos] != b"{":
        return None
    pos -= 1 + len(_TARGETS)
    at = pos - len(source)
    # The tail must not start the bytes (the manifest has sections before it).
    if at - len(_SOURCE) < 1 or not raw.startswith(_TARGETS, pos) or not raw.startswith(source, at):
        return None
    if not raw.startswith(_SOURCE, at - len(_SOURCE)):
        return None
    backwards += (pos, at)
    backwards.reverse()
    return backwards


def entry(raw: bytes, found: Sequence[int], i: int, name: str) -> Any:
    """The parsed entry of the ``i``-th target (in name order), ``name``; ValueError if it is not there.

    The spans are authenticated and ``raw`` verified by digest, so this never
    fails for a state cfgc wrote; the check costs nothing and keeps a bug from
    splicing at the wrong place.
    """
    start, end = found[2 + 2 * i], found[3 + 2 * i]
    key = orjson.dumps(name) + b":"
    # After "{" or ",": a quote there is never an escaped one inside another name.
    if raw[start - len(key) : start] != key or raw[start - len(key) - 1 : start - len(key)] not in (b"{", b","):
        raise ValueError(f"manifest span of {name!r} does not hold its entry")
    return orjson.loads(raw[start:end])


def splice(raw: bytes, found: Sequence[int], source: bytes, entries: Mapping[int, bytes]) -> tuple[bytes, list[int]]:
    """``raw`` with the ``source`` value and the entries of targets ``i`` replaced; the new spans.

    ``source`` and every entry must be canonical JSON (:func:`cfgc.base.canonical.canonical_json`).
    """
    at_ = [0] + [2 + 2 * i for i in sorted(entries)]  # where each replaced value's span is in found
    swaps = [(k, found[k], found[k + 1], source if k == 0 else entries[(k - 2) // 2]) for k in at_]
    parts: list[bytes] = []
    new: list[int] = []
    at = prev = shift = 0
    for k, start, end, data in swaps:
        parts += (raw[at:start], data)
        at = end
        # Comprehensions over the runs between replacements: 20,000 spans at 10,000 targets.
        new += [x + shift for x in found[prev:k]] if shift else found[prev:k]
        new.append(start + shift)
        shift += len(data) - (end - start)
        new.append(end + shift)
        prev = k + 2
    parts.append(raw[at:])
    new += [x + shift for x in found[prev:]] if shift else found[prev:]
    return b"".join(parts), new
