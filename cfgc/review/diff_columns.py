"""The columnar form of the diff records' entries (:mod:`cfgc.review.diff_cache`).

A recorded diff reads 20,000 entries; as one JSON list each (name, secret
files, findings, locations, shape, subtree indices) they were 4.8 MB and about
300,000 objects to parse.  Stored instead as one column per field, the small
repeated parts (secret files, findings, locations: a few distinct lists in a
repo) as a table each named by index, and every index packed as a base64 run
of little-endian ``uint32``, the same entries parse in about a fifth of the
time.  Unpacking is C code (:mod:`base64`, :mod:`array`); every index is
checked where it is used, like the rest of the file.
"""

from __future__ import annotations

import base64
import sys
from array import array
from collections.abc import Iterable
from typing import Any

import orjson

__all__ = ["FIELDS", "Columns", "Table", "pack", "unpack"]

FIELDS = 4  # the packed fields of an entry: shape, secret files, findings, locations
_CODE = "I" if array("I").itemsize == 4 else "L"  # an unsigned 32-bit array type


def pack(values: Iterable[int]) -> str:
    """``values`` (each in ``0..2**32-1``) as base64 of little-endian ``uint32``."""
    a = array(_CODE, values)
    if sys.byteorder == "big":
        a.byteswap()
    return base64.b64encode(a.tobytes()).decode("ascii")


def unpack(text: Any) -> array[int] | None:
    """The integers :func:`pack` wrote, or None when ``text`` is not its form."""
    if type(text) is not str:
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:  # (binascii.Error; a non-ASCII str too)
        return None
    if len(raw) % 4:
        return None
    a = array(_CODE)
    a.frombytes(raw)
    if sys.byteorder == "big":
        a.byteswap()
    return a


class Table:
    """A column of distinct JSON values named by index (the writer's side)."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self._index: dict[bytes, int] = {}

    def add(self, value: Any) -> int:
        """The index of ``value`` (an equal value already added shares it)."""
        text = orjson.dumps(value)
        n = self._index.get(text)
        if n is None:
            n = self._index[text] = len(self.values)
            self.values.append(value)
        return n


class Columns:
    """The body of a record file being written: records added least recently used first."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}  # subtree id -> its index
        self.subtrees: list[Any] = []
        self.shapes: dict[tuple[str, ...], int] = {}
        self.keys: list[str] = []
        self.names: list[Any] = []
        self.tables = (Table(), Table(), Table())  # secret files, findings, locations
        self.rows: list[int] = []
        self.offsets = [0]
        self.idx: list[int] = []

    def add(self, key: str, head: list[Any], top: list[tuple[str, str, Any]]) -> None:
        """One record: ``head`` is (name, secret files, findings, locations), ``top``
        each top-level ``(key, subtree id, subtree)`` (the subtree is written
        with the first record naming its id)."""
        ids, subtrees, idx = self.ids, self.subtrees, self.idx
        for _, sid, sub in top:
            i = ids.get(sid)
            if i is None:
                i = ids[sid] = len(subtrees)
                subtrees.append(sub)
            idx.append(i)
        self.offsets.append(len(idx))
        shape = tuple(k for k, _, _ in top)
        self.keys.append(key)
        self.names.append(head[0])
        secrets, findings, where = self.tables
        self.rows += [self.shapes.setdefault(shape, len(self.shapes)),
                      secrets.add(head[1]), findings.add(head[2]), where.add(head[3])]

    def doc(self, version: str) -> dict[str, Any]:
        """The file's JSON document (see :mod:`cfgc.review.diff_cache`)."""
        secrets, findings, where = self.tables
        return {"cfgc": version, "ids": list(self.ids), "subtrees": self.subtrees,
                "shapes": [list(k) for k in self.shapes], "keys": self.keys, "names": self.names,
                "secrets": secrets.values, "findings": findings.values, "where": where.values,
                "rows": pack(self.rows), "offsets": pack(self.offsets), "idx": pack(self.idx)}
