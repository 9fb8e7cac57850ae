"""Records for :mod:`cfgc.review.diff_cache`, encoded in the process that compiled the target."""

from __future__ import annotations

import hashlib
import math
from typing import Any

import orjson

from cfgc.base.diagnostics import Diagnostic
from cfgc.base.errors import Location
from cfgc.base.loading import Path
from cfgc.base.secretrefs import SecretRef
from cfgc.review.check_cache import encode_findings

TIME_BUDGET = "limits.template_seconds"
# orjson writes dataclasses (a SecretRef) and subclasses as plain JSON: both go to no_secret instead.
EXACT = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS


class Encoder:
    """Encodes records; a subtree shared by many targets is encoded once (by identity)."""

    def __init__(self) -> None:
        self.subtrees: dict[str, Any] = {}
        self._ids: dict[int, tuple[Any, str | None]] = {}  # keeps each object alive

    def record(self, name: str, value: Any, refs: tuple[tuple[Path, SecretRef], ...], secrets: tuple[str, ...],
               tokens: dict[SecretRef, str], findings: list[Diagnostic],
               located: dict[Path, Location | None]) -> list[Any] | None:
        """The JSON form of one record, or None when it cannot be kept exactly."""
        if type(value) is not dict or any(TIME_BUDGET in d.message for d in findings):
            return None
        if any(loc is None for loc in located.values()):
            return None
        by_top: dict[str | int, list[Any]] = {}
        for path, ref in refs:
            if not path:
                return None
            by_top.setdefault(path[0], []).append([list(path[1:]), ref.file, list(ref.path), ref.type, tokens[ref]])
        top = []
        for k, v in value.items():
            if type(k) is not str:
                return None
            sid = self._subtree(v, by_top.get(k, []))
            if sid is None:
                return None
            top.append([k, sid])
        where = [[list(p), loc.path, loc.line, loc.col] for p, loc in located.items() if loc is not None]
        return [name, list(secrets), encode_findings(findings), where, top]

    def _subtree(self, v: Any, refs: list[Any]) -> str | None:
        hit = self._ids.get(id(v))
        if hit is not None and not refs:
            return hit[1]
        try:
            text = orjson.dumps(v, default=no_secret, option=EXACT)
        except TypeError:
            sid = None
        else:
            # 128 bits name a subtree within one authenticated file.
            sid = None if not _exact(v) else hashlib.sha256(text + orjson.dumps(refs)).hexdigest()[:32]
            if sid is not None:
                self.subtrees[sid] = [text, refs]  # bytes: it crosses a process boundary
        if not refs:
            self._ids[id(v)] = (v, sid)
        return sid


def no_secret(obj: Any) -> None:
    if type(obj) is SecretRef:
        return None  # its place is listed beside the subtree
    raise TypeError("not JSON")


def _exact(v: Any) -> bool:
    """Whether JSON gives back exactly ``v`` (orjson writes NaN and infinities
    as null, and a tuple as a list)."""
    t = type(v)
    if t is float:
        return math.isfinite(v)
    if t is dict:
        return all(_exact(x) for x in v.values())
    if t is list:
        return all(_exact(x) for x in v)
    return t in _SCALARS


_SCALARS = frozenset({str, int, bool, type(None), SecretRef})
