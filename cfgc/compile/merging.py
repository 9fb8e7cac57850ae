"""Layer merging: deep-merge mappings, replace scalars and lists, apply tags.

Merging is functional: inputs are never mutated and unchanged subtrees are
shared between results, so the layers of a tenant or an environment are merged
once and reused by every target below them.
"""

from __future__ import annotations

from typing import Any

from cfgc.base.errors import InputError
from cfgc.base.loading import Document, Path
from cfgc.base.paths import dotted as dotted
from cfgc.base.paths import lookup, parse
from cfgc.base.sentinel import Sentinel
from cfgc.base.tags import DELETE, Append, Prepend, Replace

MISSING: Any = Sentinel("MISSING")
"""The absence of a value (a deleted or never-set key)."""


def merge_layers(docs: list[Document] | tuple[Document, ...], base: Any = MISSING) -> Any:
    """Merge layer documents in order (first = lowest precedence)."""
    value = base
    for doc in docs:
        if doc.data is None:
            continue
        if not isinstance(doc.data, dict):
            raise InputError(
                f"a layer must be a mapping at the top level, not {type_name(doc.data)}",
                doc.location(),
            )
        value = merge_value(value, doc.data, doc, ())
    return {} if value is MISSING else value


def merge_value(base: Any, over: Any, doc: Document, path: Path) -> Any:
    """Merge ``over`` (from ``doc`` at ``path``) on top of ``base``.

    Returns MISSING when the result is deleted.
    """
    if type(over) is dict:
        if type(base) is not dict:
            return _plain(over, doc, path)
        out = dict(base)
        for k, v in over.items():
            if type(v) not in _MERGES:
                out[k] = v  # what merge_value returns for it: no call, no path, per scalar of every own file
                continue
            if v is DELETE:
                out.pop(k, None)
                continue
            r = merge_value(out.get(k, MISSING), v, doc, (*path, k))
            if r is MISSING:
                out.pop(k, None)
            else:
                out[k] = r
        return out
    if type(over) is Replace:
        return _plain(over.value, doc, path)
    if type(over) is Append or type(over) is Prepend:
        if base is MISSING or base is None:
            base = []
        if type(base) is not list:
            tag = "!append" if type(over) is Append else "!prepend"
            raise InputError(
                f"{tag} needs an inherited list at '{dotted(path)}', found {type_name(base)}",
                doc.location(path),
            )
        # Through _plain as one list, so a !delete among the items is refused, not kept as MISSING.
        items = _plain(list(over.items), doc, path)
        return base + items if type(over) is Append else items + base
    if over is DELETE:
        return MISSING
    if type(over) is list:
        return _plain(over, doc, path)
    return over


def _plain(value: Any, doc: Document, path: Path) -> Any:
    """Strip tags from a value that merges onto nothing."""
    t = type(value)
    if t is dict:
        out = {}
        changed = False
        for k, v in value.items():
            r = _plain(v, doc, (*path, k)) if type(v) in _COMPOSITE else v
            if r is MISSING or v is DELETE:
                changed = True
                continue
            changed = changed or r is not v
            out[k] = r
        return out if changed else value
    if t is list:
        items = [_plain(v, doc, (*path, i)) if type(v) in _COMPOSITE else v for i, v in enumerate(value)]
        if any(v is MISSING or v is DELETE for v in items):
            raise InputError("!delete cannot stand in a list", doc.location(path))
        return items
    if t is Replace:
        return _plain(value.value, doc, path)
    if t is Append or t is Prepend:
        return merge_value(MISSING, value, doc, path)
    if value is DELETE:
        return MISSING
    return value


_COMPOSITE = {dict, list, Replace, Append, Prepend, Sentinel}
# The types merge_value does more with than return them (exact types, as it tests them).
_MERGES = frozenset(_COMPOSITE)


def deep_merge(base: Any, over: Any) -> Any:
    """Plain deep merge of resolved values (no tags): mappings merge, others replace."""
    if type(over) is dict and type(base) is dict:
        out = dict(base)
        for k, v in over.items():
            out[k] = deep_merge(out[k], v) if type(v) is dict and k in out else v
        return out
    return over


def get_path(value: Any, path: Path) -> Any:
    """The value at ``path``, or MISSING (see :func:`cfgc.base.paths.lookup`)."""
    return lookup(value, path)


def parse_dotted(text: str) -> Path:
    """Inverse of :func:`dotted`: ``a.b[0].c`` → ``('a', 'b', 0, 'c')`` (:func:`cfgc.base.paths.parse`, lenient)."""
    return parse(text, lenient=True)


def type_name(value: object) -> str:
    """A user-facing name of a value's type."""
    if value is MISSING:
        return "nothing"
    if value is None:
        return "null"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "an integer", float: "a number"}.get(
        type(value), type(value).__name__
    )
