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
    each file's index in the listing

Layer paths are indices into the repo's listing and the bundle's target
files are named by the targets, so no name is written twice.  The counts
come from the head (``npaths``, ``names``, ``bundle``, ``nspans``) and the
layer counts; any other length is refused.  The caller authenticates the
whole body before this module reads it.
"""

from __future__ import annotations

import struct
import sys
from array import array
from dataclasses import dataclass
from typing import Any

import orjson

_LENGTH = struct.Struct("<I")
DIGEST_BYTES = 32
STAMP = 4  # integers per stamp: mtime_ns, ctime_ns, size, inode


def ints(values: Any = ()) -> array[int]:
    """An array of 64-bit integers (OverflowError beyond)."""
    return array("q", values)


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
    text = orjson.dumps({**head, "npaths": n, "bundle": p.bundle[len(names) :], "nspans": len(p.spans)})
    return b"".join((_LENGTH.pack(len(text)), text, p.digests, _bytes(p.stamps), _bytes(p.bundle_stamps),
                     _bytes(p.spans), _bytes(p.counts), _bytes(p.layers), _bytes(index)))


def unpack(body: bytes | memoryview) -> tuple[dict[str, Any], Packed]:
    """The head and the packed parts; ValueError (or KeyError, TypeError, IndexError) for another shape."""
    if len(body) < _LENGTH.size:
        raise ValueError("short state")
    (size,) = _LENGTH.unpack_from(body)
    at = _LENGTH.size + size
    head = orjson.loads(body[_LENGTH.size : at])
    if not isinstance(head, dict):
        raise ValueError("state head is not an object")
    n, extra, ns, names, listed = head.pop("npaths"), head.pop("bundle"), head.pop("nspans"), head["names"], head["listed"]
    if not (isinstance(n, int) and isinstance(ns, int) and isinstance(extra, list) and isinstance(names, list)
            and isinstance(listed, list)) or min(n, ns) < 0:
        raise ValueError("state counts")
    digests = bytes(body[at : at + DIGEST_BYTES * n])
    numbers = _read(body[at + DIGEST_BYTES * n :])
    nb = len(names) + len(extra)
    cut = [STAMP * n, STAMP * nb, ns, len(names)]
    parts = []
    start = 0
    for size_ in cut:
        parts.append(numbers[start : start + size_])
        start += size_
    stamps, bundle_stamps, spans, counts = parts
    nl = sum(counts)
    if len(digests) != DIGEST_BYTES * n or len(numbers) != start + nl + n or (counts and min(counts) < 0):
        raise ValueError("state length")
    layers, index = numbers[start : start + nl], numbers[start + nl :]
    if n and min(index) < 0:
        raise ValueError("state path index")
    paths = [listed[i] for i in index]
    return head, Packed(paths, stamps, digests, [*target_files(names), *extra], bundle_stamps, spans, counts, layers)
