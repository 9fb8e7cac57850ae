"""One walk over a merged target to find what the late stages must touch.

Prompt references, ``$extends`` mappings and template strings are found in a
single pass; each stage then rebuilds only the paths that lead to them and
shares every other subtree unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from cfgc.base.loading import Path
from cfgc.base.secretrefs import SecretRef
from cfgc.base.shared_nodes import SCAN, SharedNodes
from cfgc.base.tags import PromptRef

EXTENDS = "$extends"


@dataclass(slots=True)  # one per shared container scanned (up to SharedNodes' bound)
class Found:
    """Paths of interest in one value."""

    prompts: list[Path] = field(default_factory=list)
    extends: list[Path] = field(default_factory=list)
    templates: list[Path] = field(default_factory=list)
    # The secret references, depth first, and for each of ``extends`` how
    # many of them come before it: its place in that order (refs_after).
    refs: list[tuple[Path, SecretRef]] = field(default_factory=list)
    extends_at: list[int] = field(default_factory=list)


def scan(value: Any, want_templates: bool = True, shared: SharedNodes | None = None) -> Found:
    """Find prompt references, $extends mappings, secret references and (optionally) template strings.

    ``shared`` gives the results of registered subtrees without walking them
    again (:mod:`cfgc.base.shared_nodes`); the answer, order included, is the
    same (tests/unit/compile/test_shared_walks.py).
    """
    found = Found()
    _scan(value, (), found, want_templates, shared)
    return found


def _scan(value: Any, path: Path, found: Found, tmpl: bool, shared: SharedNodes | None = None) -> None:
    if type(value) is dict:
        if EXTENDS in value:
            found.extends.append(path)
            found.extends_at.append(len(found.refs))
        items: Any = value.items()
    else:
        items = enumerate(value)
    for k, v in items:
        t = type(v)
        if t is dict or t is list:
            e = shared.nodes.get(id(v)) if shared is not None else None
            if e is None or e[0] is not v:
                _scan(v, (*path, k), found, tmpl, shared)
                continue
            rel = e[SCAN]
            if rel is None:
                rel = e[SCAN] = scan(v, True, shared)
            at = (*path, k)
            if rel.extends:
                found.extends += [at + p for p in rel.extends]
                n = len(found.refs)
                found.extends_at += [n + i for i in rel.extends_at]
            if tmpl and rel.templates:
                found.templates += [at + p for p in rel.templates]
            if rel.prompts:
                found.prompts += [at + p for p in rel.prompts]
            if rel.refs:
                found.refs += [(at + p, ref) for p, ref in rel.refs]
        elif t is str:
            if tmpl and ("{{" in v or "{%" in v):
                found.templates.append((*path, k))
        elif t is PromptRef:
            found.prompts.append((*path, k))
        elif t is SecretRef:
            found.refs.append(((*path, k), v))


def templates_after_extends(
    value: Any, before: list[Path], extends: list[Path], shared: SharedNodes | None = None
) -> list[Path]:
    """The template strings of ``value`` (the result of resolving the
    ``$extends`` mappings at ``extends``), given ``before``, those found
    before resolving.

    Resolving changes only the subtrees at ``extends`` paths (their
    ancestors are rebuilt with the same keys, every other subtree is kept),
    so only those subtrees are scanned again; the answer is the set
    ``scan(value).templates`` would give (the order may differ: every caller
    uses it as a set).  tests/unit/compile/test_walk.py holds the two to the same set.
    """
    key = (tuple(before), tuple(extends))
    roots, outside = _split(key) if len(before) + len(extends) <= _SHAPE_PATHS else _split_paths(key)
    kept = list(outside)
    for r in roots:
        node = value
        for k in r:
            node = node[k]
        entry = shared.nodes.get(id(node)) if shared is not None else None
        if entry is not None and entry[0] is node:  # a shared result ($extends memo): its scan is kept
            rel: Found | None = entry[SCAN]
            if rel is None:
                rel = entry[SCAN] = scan(node, True, shared)
            kept += [r + p for p in rel.templates]
            continue
        found = Found()
        _scan(node, r, found, True, shared)
        kept += found.templates
    return kept


def _split_paths(key: tuple[tuple[Path, ...], tuple[Path, ...]]) -> tuple[list[Path], tuple[Path, ...]]:
    # The outermost $extends paths, and the templates found before that are outside all of them.
    # Each path's prefixes are looked up in a set: linear in the paths' total length (a
    # layer file of N $extends and N templates cost O(N^2) a target, paid by every target).
    before, extends = key
    roots: list[Path] = []
    found: set[Path] = set()
    for e in sorted(set(extends), key=len):
        if not _under(e, found):
            roots.append(e)
            found.add(e)
    return roots, tuple(p for p in before if not _under(p, found))


def _under(path: Path, roots: set[Path]) -> bool:
    """Whether ``path`` is one of ``roots`` or inside one."""
    return any(path[:i] in roots for i in range(len(path) + 1))


# Every target of a group gives the same two lists: kept for 1,024 distinct pairs
# of at most 64 paths together (a pure function of the paths; callers only read it).
_split = lru_cache(maxsize=1024)(_split_paths)


def prefixes(paths: list[Path]) -> set[Path]:
    """Every path in ``paths`` and all of their ancestors."""
    out: set[Path] = set()
    for p in paths:
        for i in range(len(p) + 1):
            out.add(p[:i])
    return out


def children(dirty: set[Path]) -> dict[Path, set[Any]]:
    """For each path of ``dirty`` (a :func:`prefixes` set), the keys of its
    children that are in ``dirty`` too: a rebuild then copies every other
    child without a call or a path of its own."""
    out: dict[Path, set[Any]] = {}
    for p in dirty:
        if p:
            out.setdefault(p[:-1], set()).add(p[-1])
    return out


_SHAPE_PATHS = 64  # path lists longer than this are not memoised (the memo's bound per entry)


def shape(paths: list[Path]) -> tuple[frozenset[Path], dict[Path, frozenset[Any]]]:
    """:func:`prefixes` of ``paths`` and the :func:`children` of those, as
    frozen sets (callers only read them).

    Every target of a group lists the same ``$extends`` mappings and
    template strings: the answer, a pure function of the paths, is kept for
    up to 1,024 distinct lists of at most 64 paths.
    """
    if len(paths) > _SHAPE_PATHS:
        return _shape(tuple(paths))
    return _shape_memo(tuple(paths))


def _shape(paths: tuple[Path, ...]) -> tuple[frozenset[Path], dict[Path, frozenset[Any]]]:
    dirty = prefixes(list(paths))
    return frozenset(dirty), {p: frozenset(ks) for p, ks in children(dirty).items()}


_shape_memo = lru_cache(maxsize=1024)(_shape)


def replace_at(root: Any, values: dict[Path, Any]) -> Any:
    """A copy of ``root`` with each path set to its new value (copy on write).

    Only the mappings and lists on the way to a path are copied; a path that
    is not in ``root`` is ignored, and a path under another one given is
    superseded by it.  Each copied node is copied at C speed and then only
    its changed children are set: no call per unchanged child.
    """
    if () in values:
        return values[()]
    trie: dict[Any, Any] = {}
    for path, value in values.items():
        node = trie
        for k in path[:-1]:
            sub = node.get(k)
            if type(sub) is _Leaf:
                break
            if sub is None:
                sub = node[k] = {}
            node = sub
        else:
            node[path[-1]] = _Leaf(value)
    return _rebuild(root, trie)


class _Leaf:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _rebuild(node: Any, trie: dict[Any, Any]) -> Any:
    t = type(node)
    if t is dict:
        out: Any = dict(node)
        for k, sub in trie.items():
            if k in node:
                out[k] = sub.value if type(sub) is _Leaf else _rebuild(node[k], sub)
    elif t is list:
        out = list(node)
        n = len(node)
        for i, sub in trie.items():
            if type(i) is int and 0 <= i < n:
                out[i] = sub.value if type(sub) is _Leaf else _rebuild(node[i], sub)
    else:
        return node
    return out
