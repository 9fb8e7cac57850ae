"""A target's secret references after the late stages, from the scan before them.

:func:`cfgc.compile.walk.scan` walks the merged value before the late stages
and lists its secret references depth first.  The late stages change that
value only in known places: prompt pins and rendered templates replace a
leaf (a :class:`~cfgc.base.tags.PromptRef`, a template string: neither is a
reference), ``$extends`` replaces the mapping that holds it, and every
container on the way to such a place is copied with its keys in the same
order.  So the references of the result, in its depth-first order, are those
found before with the block under each outermost ``$extends`` mapping
replaced by the references of what it resolved to, at the same place.  Only
a rendered value that holds a reference itself (a whole-value template of a
secret) sends the target to the full walk, as does anything unexpected.

This takes the walk of every container the late stages rebuilt (the root,
``providers``, ``models``, ``budget``... of every full-corpus target) off
each compile.  tests/unit/compile/test_late_refs.py holds the answer, order
included, to :func:`cfgc.base.secretrefs.secret_refs` of the result.
"""

from __future__ import annotations

from typing import Any

from cfgc.base.loading import Path
from cfgc.base.secretrefs import SecretRef, secret_refs
from cfgc.base.shared_nodes import REFS, SharedNodes
from cfgc.compile.walk import Found

_SCALARS = frozenset((str, int, float, bool, type(None)))


def refs_after(value: Any, found: Found, shared: SharedNodes | None = None) -> list[tuple[Path, SecretRef]]:
    """``secret_refs(value, (), shared)``, where ``value`` is the result of
    the late stages over the value ``found`` was scanned from (``found.templates``:
    the template strings that were rendered, :func:`~cfgc.compile.walk.templates_after_extends`'s
    list when ``$extends`` ran)."""
    if type(value) is not dict:
        return secret_refs(value, (), shared)
    pre = found.refs
    roots: list[tuple[Path, int]] = []
    last: Path | None = None
    for e, at in zip(found.extends, found.extends_at, strict=True):
        # Depth first: a mapping nested in an earlier one comes right after it.
        if last is not None and e[: len(last)] == last:
            continue
        if not e:
            return secret_refs(value, (), shared)
        roots.append((e, at))
        last = e
    for t in found.templates:
        # A rendered value is a scalar but for a whole-value template of a
        # container or a reference: rare, and then the target is walked whole.
        v: Any = value
        for k in t:
            v = v[k]
        if type(v) not in _SCALARS:
            return secret_refs(value, (), shared)
    if not roots:
        return list(pre)
    out: list[tuple[Path, SecretRef]] = []
    i = 0
    n = len(pre)
    nodes = shared.nodes if shared is not None else None
    for r, at in roots:
        if at < i or at > n:
            return secret_refs(value, (), shared)  # not in walk order: never expected
        out += pre[i:at]
        i = at
        depth = len(r)
        while i < n and pre[i][0][:depth] == r:
            i += 1  # the references the mapping held before it resolved
        node: Any = value
        for k in r:
            node = node[k]  # the late stages kept every path they rebuilt
        entry = nodes.get(id(node)) if nodes is not None else None
        if entry is not None and entry[0] is node:  # a shared resolution ($extends memo): its walk is kept
            rel: list[tuple[Path, SecretRef]] | None = entry[REFS]
            if rel is None:
                rel = entry[REFS] = secret_refs(node, (), shared)
            out += [(r + p, ref) for p, ref in rel]
        else:
            out += secret_refs(node, r, shared)
    out += pre[i:]
    return out
