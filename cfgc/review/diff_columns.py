"""The columnar form of the diff records' entries (:mod:`cfgc.review.diff_cache`).

A recorded diff reads 20,000 entries; as one JSON list each (name, secret
files, findings, locations, shape, subtree indices) they were 4.8 MB and about
300,000 objects to parse.  Stored instead as one column per field, the small
repeated parts (secret files, findings, locations: a few distinct lists in a
repo) as a table each named by index, and every index packed as a base64 run
of little-endian ``uint32``, the full corpus's 20,000 records (8.2 MB
against 9.0 MB) parse in 46 ms against 143 ms.  Unpacking is C code (:mod:`base64`, :mod:`array`); every index is
checked where it is used, like the rest of the file.

The record file (``packed``: base64 of little-endian ``uint32``)::

    cfgc-diff-cache 2\\n
    <hex HMAC-SHA256 of the magic line and the body>\\n
    <body: JSON {"cfgc": version, "ids": [subtree id...],
                 "subtrees": [[value, [[rel path, file, path, type, token]...]]...],
                 "shapes": [[top key...]...],
                 "keys": [record key...], "names": [target name...],
                 "secrets": [[secret file...]...], "findings": [[finding...]...],
                 "where": [[[path, file, line, col]...]...],
                 "rows": packed (shape, secrets, findings, where) of each record,
                 "offsets": packed start of each record's subtree indices (and the end),
                 "idx": packed subtree indices}>
"""

from __future__ import annotations

import base64
import sys
from array import array
from collections.abc import Iterable
from typing import Any

import orjson

from cfgc.base.diagnostics import Diagnostic
from cfgc.review.check_cache import decode_findings

__all__ = ["FIELDS", "Columns", "Table", "finding_set", "pack", "secret_set", "unpack"]

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


def secret_set(table: list[Any], s: int) -> tuple[str, ...] | None:
    """Entry ``s`` of the secret files' table, checked (None: malformed or absent)."""
    got = table[s] if s < len(table) else None
    return tuple(got) if type(got) is list and all(type(x) is str for x in got) else None


def finding_set(table: list[Any], f: int) -> tuple[Diagnostic, ...] | None:
    """Entry ``f`` of the findings' table, decoded and checked (None: malformed or absent)."""
    got = decode_findings(table[f]) if f < len(table) else None
    return tuple(got) if got is not None else None


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

    def add_new(self, key: str, raw: list[Any], subtrees: dict[str, Any]) -> None:
        """One record this run made (:class:`cfgc.review.diff_encode.Encoder`'s
        form, its new subtrees' JSON in ``subtrees``); dropped when a subtree
        it names is in neither this file nor ``subtrees``."""
        top: list[tuple[str, str, Any]] = []
        for k, sid in raw[-1]:
            sub: Any = subtrees.get(sid)
            if sid in self.ids or sub is None:  # already added (its value unused), or lost
                top.append((k, sid, None))
                continue
            top.append((k, sid, [orjson.loads(sub[0]), sub[1]]))
        if all(sid in self.ids or sub is not None for _, sid, sub in top):
            self.add(key, raw[:4], top)

    def doc(self, version: str) -> dict[str, Any]:
        """The file's JSON document (see :mod:`cfgc.review.diff_cache`)."""
        secrets, findings, where = self.tables
        return {"cfgc": version, "ids": list(self.ids), "subtrees": self.subtrees,
                "shapes": [list(k) for k in self.shapes], "keys": self.keys, "names": self.names,
                "secrets": secrets.values, "findings": findings.values, "where": where.values,
                "rows": pack(self.rows), "offsets": pack(self.offsets), "idx": pack(self.idx)}
