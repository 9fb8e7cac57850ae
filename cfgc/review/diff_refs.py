"""A kept subtree of :mod:`cfgc.review.diff_cache`, its secret references put back.

The file stores ``null`` where a secret reference was, and lists each reference
beside the subtree (its path in the subtree, file, key path, type and comparison
token); decoding puts the references back and checks every shape on the way.
Anything malformed gives :data:`BAD` (a miss: the target is compiled).
"""

from __future__ import annotations

from typing import Any

from cfgc.base.secretrefs import SecretRef
from cfgc.review.diff_entry import key_path

__all__ = ["BAD", "pair", "place_refs", "strs"]

BAD = object()  # a malformed subtree


def pair(found: Any) -> bool:
    """Whether ``found`` has the form of a kept subtree: ``[value, [reference...]]``."""
    return type(found) is list and len(found) == 2 and type(found[1]) is list


def place_refs(value: Any, refs: list[Any], tokens: list[tuple[SecretRef, str]]) -> Any:
    """``value`` with each listed secret reference put back (in place: it was
    just parsed); each reference's token goes to ``tokens``."""
    for r in refs:
        if type(r) is not list or len(r) != 5 or not key_path(r[0]) or not key_path(r[2]):
            return BAD
        rel, file, path, kind, token = r
        if type(file) is not str or type(kind) is not str or type(token) is not str:
            return BAD
        ref = SecretRef(file, tuple(path), kind)
        tokens.append((ref, token))
        if not rel:
            value = ref
            continue
        parent = value
        for k in rel[:-1]:
            parent = _child(parent, k)
            if parent is BAD:
                return BAD
        last = rel[-1]
        if _child(parent, last) is not None:  # only a null the encoder wrote in its place
            return BAD
        parent[last] = ref
    return value


def _child(parent: Any, k: Any) -> Any:
    if type(parent) is dict and type(k) is str and k in parent:
        return parent[k]
    if type(parent) is list and type(k) is int and 0 <= k < len(parent):
        return parent[k]
    return BAD


def strs(v: Any) -> bool:
    """Whether ``v`` is a list of strings."""
    return type(v) is list and all(type(x) is str for x in v)
