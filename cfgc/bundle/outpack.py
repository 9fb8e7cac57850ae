"""The byte form of an out state (:mod:`cfgc.bundle.outstate`): a JSON head and packed integers.

At 10,000 targets the state held as one JSON document was 3.4 MB, and
parsing it into 40,000 strings, lists and dicts, authenticating it and
writing it again was about a tenth of a one-file rebuild.  Names and small
fields stay JSON (orjson parses a list of strings quickly); the numbers do
not: stat stamps, manifest spans and layer indices are arrays of
little-endian 64-bit integers, and sha256 digests raw 32-byte strings, which
load as one copy each and are only turned into Python objects where they are
used.  Layout::

    u32 length of the head | head (JSON object)
    | file digests (32 bytes each) | then i64 each: file stamps (4 each),
    bundle stamps (4 each), spans, each target's number of layers, the layers,
    each file's index in the listing | tail (JSON object)

Layer paths are indices into the repo's listing and the bundle's target
files are named by the targets, so no name is written twice.  The counts
come from the head (``npaths``, ``names``, ``bundle``, ``nspans``,
``nlayers``); any other length is refused.  The fields an in-place build
changes every time (:data:`VOLATILE`: the manifest's digest, ``OUT``'s
folder stamps, kept values...) are the tail, so that such a build can
rewrite the fixed-width numbers it changed and the tail alone
(:func:`cfgc.bundle.outstate.save`); :class:`Layout` says where each part
lies.  The caller authenticates the whole body before this module reads it.
"""

from __future__ import annotations

import bisect
import struct
import sys
from array import array
from collections.abc import Collection
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

import orjson

_LENGTH = struct.Struct("<I")
DIGEST_BYTES = 32
STAMP = 4  # integers per stamp: mtime_ns, ctime_ns, size, inode


def ints(values: Any = ()) -> array[int]:
    """An array of 64-bit integers (OverflowError beyond)."""
    return array("q", values)


def ints_of(values: list[int]) -> array[int]:
    """:func:`ints` of a list, packed by ``struct`` in one call: about half the time of
    ``array`` taking the items one by one (tens of thousands of stamps).  A value out of
    range takes :func:`ints`, which raises its OverflowError."""
    packed = array("q")
    try:
        packed.frombytes(struct.pack(f"{len(values)}q", *values))
    except struct.error:
        return ints(values)
    return packed


def _bytes(packed: array[int]) -> bytes:
    if sys.byteorder != "little":
        packed = array("q", packed)
        packed.byteswap()
    return packed.tobytes()


def _read(data: bytes | memoryview) -> array[int]:
    if len(data) % 8:
        raise ValueError("state length")
    packed = array("q")
    packed.frombytes(data)
    if sys.byteorder != "little":
        packed.byteswap()
    return packed


# Head fields an in-place build rewrites every time: stored after the numbers (see the module docstring).
VOLATILE = ("manifest", "source", "dirs", "folders", "warned", "pins", "sops", "config_marks", "careful", "renders")


@dataclass(frozen=True)
class Layout:
    """Where the parts of a body lie: the fixed-width number parts (digests, stamps, bundle stamps,
    spans) as (start, end) offsets, and the tail's start; ``fixed`` is the head without the counts."""

    regions: tuple[tuple[int, int], ...]
    tail: int
    fixed: dict[str, Any]


def regions(p: Packed) -> tuple[bytes, ...]:
    """The bytes of the fixed-width parts an update may change, in the order :class:`Layout` gives them."""
    return p.digests, _bytes(p.stamps), _bytes(p.bundle_stamps), _bytes(p.spans)


def tail(head: dict[str, Any]) -> bytes:
    """The tail of a body: the :data:`VOLATILE` fields of ``head``."""
    return orjson.dumps({k: head[k] for k in VOLATILE if k in head})


def target_files(names: list[str]) -> list[str]:
    """The bundle paths of the targets ``names``."""
    return [f"targets/{n}.json" for n in names]


@dataclass(frozen=True)
class Packed:
    """The parts of a state that are written as numbers (see the module docstring)."""

    paths: list[str]
    stamps: array[int]  # STAMP per path
    digests: bytes  # DIGEST_BYTES per path
    bundle: list[str]  # target_files(names), then the other files of OUT
    bundle_stamps: array[int]  # STAMP per bundle file
    spans: array[int]
    counts: array[int]  # per target
    layers: array[int]  # indices into paths, target after target


def pack(head: dict[str, Any], p: Packed) -> bytes:
    """The bytes of a state: ``head`` (JSON-able, with ``listed`` and ``names``) and its numbers.

    ValueError (KeyError: a layer file not in the listing) when the parts do not fit together.
    """
    names: list[str] = head["names"]
    n = len(p.paths)
    if (len(p.stamps) != STAMP * n or len(p.digests) != DIGEST_BYTES * n or len(p.counts) != len(names)
            or sum(p.counts) != len(p.layers) or len(p.bundle_stamps) != STAMP * len(p.bundle)
            or p.bundle[: len(names)] != target_files(names)):
        raise ValueError("state parts of different lengths")
    where = {path: i for i, path in enumerate(head["listed"])}
    index = ints(where[path] for path in p.paths)
    fixed = {k: v for k, v in head.items() if k not in VOLATILE}
    text = orjson.dumps({**fixed, "npaths": n, "bundle": p.bundle[len(names) :], "nspans": len(p.spans),
                         "nlayers": len(p.layers)})
    return b"".join((_LENGTH.pack(len(text)), text, *regions(p), _bytes(p.counts), _bytes(p.layers), _bytes(index),
                     tail(head)))


def unpack(body: bytes | memoryview) -> tuple[dict[str, Any], Packed, Layout]:
    """The head, the packed parts and where they lie; ValueError (or KeyError, TypeError, IndexError) for another shape."""
    if len(body) < _LENGTH.size:
        raise ValueError("short state")
    (size,) = _LENGTH.unpack_from(body)
    at = _LENGTH.size + size
    head = orjson.loads(body[_LENGTH.size : at])
    if not isinstance(head, dict):
        raise ValueError("state head is not an object")
    n, extra, ns, nl = head.pop("npaths"), head.pop("bundle"), head.pop("nspans"), head.pop("nlayers")
    names, listed = head["names"], head["listed"]
    if not (isinstance(n, int) and isinstance(ns, int) and isinstance(nl, int) and isinstance(extra, list)
            and isinstance(names, list) and isinstance(listed, list)) or min(n, ns, nl) < 0:
        raise ValueError("state counts")
    nb = len(names) + len(extra)
    sizes = [DIGEST_BYTES * n, 8 * STAMP * n, 8 * STAMP * nb, 8 * ns, 8 * len(names), 8 * nl, 8 * n]
    bounds = []
    for size_ in sizes:
        bounds.append((at, at + size_))
        at += size_
    if at > len(body):
        raise ValueError("state length")
    digests = bytes(body[slice(*bounds[0])])
    stamps, bundle_stamps, spans, counts, layers, index = (_read(body[slice(*b)]) for b in bounds[1:])
    if sum(counts) != nl or (counts and min(counts) < 0) or (n and min(index) < 0):
        raise ValueError("state layers")
    rest = orjson.loads(body[at:])
    if not isinstance(rest, dict) or set(rest) != set(VOLATILE):
        raise ValueError("state tail")
    layout = Layout(tuple(bounds[:4]), at, dict(head))
    paths = [listed[i] for i in index]
    return ({**head, **rest}, Packed(paths, stamps, digests, [*target_files(names), *extra], bundle_stamps, spans,
                                     counts, layers), layout)


def reach(names: list[str], counts: array[int], layers: array[int], changed: set[int],
          also: Collection[str] = ()) -> dict[str, array[int]]:
    """The targets (of ``names``, sorted) with a layer in ``changed`` or named in ``also``, with their layers.

    Each changed layer is found in the flat ``layers`` by ``array.index`` (in C: no Python
    loop over 10,000 targets for one changed file), and mapped to its target by the
    running sums of ``counts``.
    """
    starts = list(accumulate(counts, initial=0))
    hit: set[int] = set()
    for layer in changed:
        at = 0
        while True:
            try:
                at = layers.index(layer, at)
            except ValueError:
                break
            i = bisect.bisect_right(starts, at) - 1  # a target without layers starts where the next one does
            hit.add(i)
            at = starts[i + 1]  # the rest of this target's layers cannot add it again
    for name in also:
        i = bisect.bisect_left(names, name)
        if i < len(names) and names[i] == name:
            hit.add(i)
    return {names[i]: layers[starts[i] : starts[i + 1]] for i in sorted(hit)}
