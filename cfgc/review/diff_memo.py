"""Whole results of ``cfgc diff`` whose targets all came from records, kept by both sides' digests.

A pull request's check that runs again (a re-run, a second job of the same
workflow, a comment asking for the report) diffs the same two trees: with
both sides recorded (:mod:`cfgc.review.diff_cache`) it still reads the
record file, looks up and decodes 20,000 records and compares 10,000
targets (about 0.4 s of CPU for the full benchmark corpus).  Such a result is
a function of

- each side's digest (:func:`cfgc.review.diff_sides.side_digest`: the global
  key — cfgc and library versions, template limits —, the schema validators'
  versions, the ``--target`` glob, and every path of the side with its git
  blob id; a git side by its tree id), which covers every record key of that
  side and so every recorded value, token, finding and location;
- the changed files (listed in the result), and the two labels it carries;
- DeepDiff's installed version (it finds the changed paths of recorded targets).

Only a result made from records alone on both sides is kept (a compiled
target may have read a working-tree file saved during the run, or met a
template time budget that depends on the machine's load); its values must
read back exactly from JSON (no tuple, no non-finite float, no secret
reference: none of these is kept).

The files are untrusted like the rest of the cache folder: each is sealed
with HMAC-SHA256 under the cache key (:mod:`cfgc.review.sealed`), read within
:data:`MAX_FILE_BYTES`, names its own key inside the sealed body (a file
renamed to another key's name is not that result), and every field's type is
checked; anything wrong is a miss (the diff runs from its records), never a
wrong diff.  At most :data:`KEEP` results are kept, the least recently
written removed first.

Layout of ``diff-results/<key>``::

    cfgc-diff-result 1\\n
    <hex HMAC-SHA256 of the magic line and the body>\\n
    <body: JSON {"cfgc": version, "key": key, "variables": [...], "files": [...],
                 "compiled": n, "total": n, "errors": [finding...],
                 "targets": [[name, status, {var: value}, production,
                              [[path, absent flags, before, after, [file, line, col] or null, secret]...]]...]}>

A finding is as in :mod:`cfgc.review.check_cache`; the absent flags are 1
(no before value) and 2 (no after value).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from pathlib import Path as FsPath
from typing import Any

import orjson

from cfgc import __version__
from cfgc.base.errors import Location
from cfgc.base.installed import install_stamps
from cfgc.compile.merging import MISSING
from cfgc.review.check_cache import decode_findings, encode_findings
from cfgc.review.diff_result import DiffResult, TargetDiff, target_diff
from cfgc.review.diff_values import Change
from cfgc.review.gc_phases import collector_paused
from cfgc.review.sealed import SealedFolder

MAGIC = b"cfgc-diff-result 1\n"
FOLDER = "diff-results"
MAX_FILE_BYTES = 256 * 1024 * 1024  # a bigger file is not ours
MAX_TARGETS = 2_000_000  # targets read; a file with more is not ours
KEEP = 8  # results kept: a few pull requests' latest diffs
_STATUS = frozenset({"added", "removed", "changed"})


def result_key(base_side: str, head_side: str, files: Sequence[str], select: str | None,
               base_name: str, head_name: str) -> str:
    """The key a result is kept under: see the module docstring for why these suffice."""
    # DeepDiff still finds the changed paths of recorded targets: its version is part of the answer.
    parts = ["diff-result", __version__, install_stamps(("deepdiff",)), base_side, head_side, list(files), select,
             base_name, head_name]
    try:
        text = orjson.dumps(parts)
    except TypeError:  # a path that is not UTF-8: JSON's escapes (equal bytes decode to equal parts)
        text = json.dumps(parts).encode("ascii")
    return hashlib.sha256(text).hexdigest()


class ResultStore:
    """The kept results of one cache folder (no cache key: nothing is read or written)."""

    def __init__(self, folder: FsPath) -> None:
        self._files = SealedFolder(folder / FOLDER, MAGIC, MAX_FILE_BYTES, KEEP, "key")
        self.folder = self._files.folder

    def get(self, key: str) -> DiffResult | None:
        """The result kept under ``key``, or None (absent, not ours or malformed)."""
        with collector_paused():  # tens of thousands of objects, no cycles
            doc = self._files.load(key)
            return None if doc is None else _decode(doc)

    def put(self, key: str, result: DiffResult) -> None:
        """Keep one result when JSON carries it exactly (failures are ignored: it is a cache)."""
        doc = _encode(result)
        if doc is not None:
            self._files.save(key, doc)


def _encode(result: DiffResult) -> dict[str, Any] | None:
    targets = []
    seen: dict[int, list[Any]] = {}  # targets share Change objects (the result keeps each alive)
    for t in result.targets:
        changes = []
        for c in t.changes:
            done = seen.get(id(c))
            if done is None:
                before, after = c.before is MISSING, c.after is MISSING
                b = None if before else c.before
                a = None if after else c.after
                if not (_exact(b) and _exact(a)) or not all(type(k) is str or type(k) is int for k in c.path):
                    return None
                src = [c.source.path, c.source.line, c.source.col] if c.source is not None else None
                done = seen[id(c)] = [list(c.path), before | (after << 1), b, a, src, c.secret]
            changes.append(done)
        targets.append([t.name, t.status, t.vars, t.production, changes])
    return {"cfgc": __version__, "variables": list(result.variables), "files": list(result.changed_files),
            "compiled": result.compiled, "total": result.total, "errors": encode_findings(result.errors),
            "base": result.base, "head": result.head, "targets": targets}


def _exact(v: Any) -> bool:
    """Whether JSON gives back exactly ``v`` (type for type)."""
    t = type(v)
    if t is str or t is bool or v is None:
        return True
    if t is int:
        return bool(-(2**63) <= v < 2**64)  # orjson's range
    if t is float:
        return math.isfinite(v)
    if t is dict:
        return all(type(k) is str and _exact(x) for k, x in v.items())
    if t is list:
        return all(_exact(x) for x in v)
    return False


def _decode(doc: dict[str, Any]) -> DiffResult | None:
    variables: Any = doc.get("variables")
    files: Any = doc.get("files")
    targets = doc.get("targets")
    compiled, total, base, head = doc.get("compiled"), doc.get("total"), doc.get("base"), doc.get("head")
    if (not _strs(variables) or not _strs(files) or type(targets) is not list or len(targets) > MAX_TARGETS
            or type(compiled) is not int or type(total) is not int or type(base) is not str
            or type(head) is not str):
        return None
    errors = decode_findings(doc.get("errors"))
    if errors is None:
        return None
    out: list[TargetDiff] = []
    for row in targets:  # runs once per changed target: exact types, no generators
        if type(row) is not list or len(row) != 5:
            return None
        name, status, tvars, production, rows = row
        if (type(name) is not str or status not in _STATUS or type(tvars) is not dict
                or type(production) is not bool or type(rows) is not list):
            return None
        for v in tvars.values():
            if type(v) is not str:  # (orjson gives str keys)
                return None
        changes = []
        for c in rows:
            if type(c) is not list or len(c) != 6:
                return None
            path, absent, before, after, src, secret = c
            if type(path) is not list or type(absent) is not int or not 0 <= absent <= 3 or type(secret) is not bool:
                return None
            for k in path:
                if type(k) is not str and type(k) is not int:
                    return None
            if src is None:
                loc = None
            elif (type(src) is list and len(src) == 3 and type(src[0]) is str and type(src[1]) is int
                  and type(src[2]) is int):
                loc = Location(src[0], src[1], src[2])
            else:
                return None
            changes.append(Change(tuple(path), MISSING if absent & 1 else before, MISSING if absent & 2 else after,
                                  loc, secret))
        out.append(target_diff(name, status, tvars, production, tuple(changes)))
    return DiffResult(base, head, tuple(variables), tuple(out), tuple(files), compiled, total, tuple(errors))


def _strs(v: Any) -> bool:
    return type(v) is list and all(type(x) is str for x in v)
