"""A traced replay of the merge and of ``$extends``: who set every node.

:mod:`cfgc.compile.merging` and :mod:`cfgc.compile.extends` keep the fast path free of
bookkeeping; when a location is needed (an error, ``cfgc explain``, a diff),
the same steps are replayed here on a tree of :class:`Node` that mirrors the
target's shape.  Every mapping key, list item and scalar gets the ordered
contributions of the layers behind it, so list items shifted by ``!prepend``,
items added by ``!append`` and keys removed by ``!delete`` (kept as tombstones
with the value they removed) are attributed to their own lines.

The replay runs only on inputs the real merge accepted, so it raises nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cfgc.base.errors import Location
from cfgc.base.loading import Document, Path
from cfgc.base.tags import DELETE, Append, Prepend, PromptRef, Replace

EXTENDS = "$extends"


@dataclass(frozen=True, eq=False)
class Contribution:
    """One layer's contribution to a value; ``via`` names an ``$extends`` base.

    ``value`` is the layer's own text of the value, tags shown as YAML
    (``!delete``, ``!prompt name@range``): a template string stays unrendered.

    ``where`` is the :attr:`location`, or the document and key path it is
    read from on first use: a replay records a contribution for every key of
    every layer, and most are never asked where they are (a file loaded
    without marks would be parsed again for each).
    """

    where: Location | tuple[Document, Path]
    value: Any
    action: str  # "set", "merge", "replace", "append", "prepend", "delete"
    via: str | None = None

    @property
    def location(self) -> Location:
        """Where the layer sets the value."""
        w = self.where
        if type(w) is tuple:
            w = w[0].location(w[1])
            object.__setattr__(self, "where", w)
        assert isinstance(w, Location)
        return w

    def _key(self) -> tuple[Location, Any, str, str | None]:
        return self.location, self.value, self.action, self.via

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Contribution) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash((self.location, self.action, self.via))

    def __repr__(self) -> str:
        return f"Contribution({self.location!r}, {self.value!r}, {self.action!r}, {self.via!r})"


@dataclass
class Node:
    """One node of the traced tree (built and then only read)."""

    hist: list[Contribution]
    keys: dict[str, Node] | None = None  # a mapping
    items: list[Node] | None = None  # a list
    gone: bool = False  # deleted: kept so its history can be explained

    def child(self, key: str | int) -> Node | None:
        """The node at ``key``, tombstones included."""
        if self.keys is not None and type(key) is str:
            return self.keys.get(key)
        if self.items is not None and type(key) is int and 0 <= key < len(self.items):
            return self.items[key]
        return None


def shown(raw: Any) -> Any:
    """A layer value as plain data: tags become their YAML spelling."""
    t = type(raw)
    if t is dict:
        return {k: shown(v) for k, v in raw.items()}
    if t is list:
        return [shown(v) for v in raw]
    if t is Replace:
        return shown(raw.value)
    if t is Append or t is Prepend:
        return [shown(v) for v in raw.items]
    if raw is DELETE:
        return "!delete"
    if t is PromptRef:
        return f"!prompt {raw}"
    return raw


def action_of(raw: object) -> str:
    """The verb a layer value applies."""
    t = type(raw)
    if t is Replace:
        return "replace"
    if raw is DELETE:
        return "delete"
    if t is Append:
        return "append"
    if t is Prepend:
        return "prepend"
    if t is dict:
        return "merge"
    return "set"


#: Traced merges of layer prefixes, by the identity of their documents (which
#: the entry keeps alive, so an id is never reused while it is a key).  Targets
#: share their lower layers: a diff that locates values in 10,000 targets traces
#: each shared prefix once, not 10,000 times.  A replay never mutates a node it
#: was given, so a traced prefix can be the base of many targets.
#:
#: One memo per :class:`~cfgc.compile.compiler.Compiler` (the two sides of a diff
#: share one), never a module-level one: an entry keeps its documents, whose
#: ``reload`` keeps their compiler and its source (open folder fds, ``git
#: cat-file`` processes), so a process-wide memo kept every source of a
#: long-lived ``cfgc.api`` user alive (docs/security.md, "Bounded cost").
Prefixes = dict[tuple[int, ...], tuple[tuple[Document, ...], Node | None]]
MAX_TRACED_PREFIXES = 1024  # entries kept per memo; the memo is emptied when it is full


def trace_layers(docs: tuple[Document, ...], memo: Prefixes | None = None) -> Node:
    """The traced merge of ``docs`` (first = lowest precedence); ``memo``
    keeps traced prefixes for the next call (none: nothing is kept)."""
    root = _trace(docs, {} if memo is None else memo)
    return root if root is not None else Node([], keys={})


def _trace(docs: tuple[Document, ...], memo: Prefixes) -> Node | None:
    if not docs:
        return None
    prefix = docs[:-1]
    root: Node | None = None
    if prefix:
        key = tuple(map(id, prefix))
        hit = memo.get(key)
        if hit is None:
            root = _trace(prefix, memo)
            if len(memo) >= MAX_TRACED_PREFIXES:
                memo.clear()
            memo[key] = (prefix, root)
        else:
            root = hit[1]
    last = docs[-1]
    if type(last.data) is dict:
        root = _merge(root, last.data, last, ())
    return root


def _contrib(raw: Any, doc: Document, path: Path, action: str | None = None) -> Contribution:
    return Contribution((doc, path), None if raw is DELETE else shown(raw), action or action_of(raw))


def _merge(base: Node | None, over: Any, doc: Document, path: Path) -> Node:
    t = type(over)
    if base is not None and base.gone:
        base = Node(base.hist)  # the key comes back: keep what it was and its deletion
    prior = base.hist if base is not None else []
    if t is dict:
        if base is None or base.keys is None:
            node = _plain(over, doc, path)
            node.hist = [*prior, *node.hist]
            return node
        keys = dict(base.keys)
        for k, v in over.items():
            if v is DELETE:
                keys[k] = _delete(keys.get(k), _contrib(v, doc, (*path, k)))
            else:
                keys[k] = _merge(keys.get(k), v, doc, (*path, k))
        return Node([*prior, _contrib(over, doc, path)], keys=keys)
    if t is Replace:
        return _plain(over, doc, path)
    if t is Append or t is Prepend:
        old = base.items if base is not None and base.items is not None else []
        act = action_of(over)
        new = [_plain(v, doc, (*path, i), act) for i, v in enumerate(over.items)]
        return Node([*prior, _contrib(over, doc, path)], items=[*old, *new] if t is Append else [*new, *old])
    node = _plain(over, doc, path)
    node.hist = [*prior, *node.hist]
    return node


def _delete(node: Node | None, c: Contribution) -> Node:
    """A tombstone: the removed node's history (its descendants' too) plus the delete."""
    if node is None or node.gone:
        return Node([*(node.hist if node else []), c], gone=True)
    keys = {k: _delete(v, c) for k, v in node.keys.items()} if node.keys is not None else None
    items = [_delete(v, c) for v in node.items] if node.items is not None else None
    return Node([*node.hist, c], keys=keys, items=items, gone=True)


def _plain(raw: Any, doc: Document, path: Path, action: str | None = None) -> Node:
    """A node for a value that merges onto nothing (a fresh history)."""
    t = type(raw)
    c = _contrib(raw, doc, path, action)
    if t is dict:
        keys = {k: _plain(v, doc, (*path, k)) for k, v in raw.items() if v is not DELETE}
        return Node([c], keys=keys)
    if t is list:
        return Node([c], items=[_plain(v, doc, (*path, i)) for i, v in enumerate(raw)])
    if t is Replace:
        node = _plain(raw.value, doc, path)
        node.hist = [c]
        return node
    if t is Append or t is Prepend:
        return _merge(None, raw, doc, path)
    return Node([c])


def trace_extends(root: Node, origins: dict[Path, tuple[Path, ...]]) -> Node:
    """``root`` with every ``$extends`` of ``origins`` applied as
    :func:`cfgc.compile.extends.resolve_extends` applied it; inherited contributions
    name their base in ``via``."""
    if not origins:
        return root
    dirty = {p[:i] for p in origins for i in range(len(p) + 1)}
    done: dict[Path, Node] = {}

    def at(path: Path) -> Node | None:
        node: Node | None = root
        for key in path:
            node = node.child(key) if node is not None else None
            if node is None or node.gone:
                return None
        return node

    def resolve(path: Path, node: Node, depth: int = 0) -> Node:
        if path not in dirty or depth > 64 or node.gone:
            return node
        if path in done:
            return done[path]
        done[path] = node  # a cycle (refused by the real resolver) ends here
        if node.keys is not None:
            own = Node(node.hist, keys={k: resolve((*path, k), v, depth + 1) for k, v in node.keys.items()
                                        if k != EXTENDS})
            out = own
            bases = origins.get(path, ())
            if bases:
                merged: Node | None = None
                for b in bases:
                    raw = at(b)
                    if raw is not None:
                        base = _via(resolve(b, raw, depth + 1), ".".join(map(str, b)))
                        merged = base if merged is None else _deep(merged, base)
                out = own if merged is None else _deep(merged, own)
        elif node.items is not None:
            out = Node(node.hist, items=[resolve((*path, i), v, depth + 1) for i, v in enumerate(node.items)])
        else:
            out = node
        done[path] = out
        return out

    return resolve((), root)


def _via(node: Node, via: str) -> Node:
    hist = [c if c.via else Contribution(c.where, c.value, c.action, via) for c in node.hist]
    keys = {k: _via(v, via) for k, v in node.keys.items()} if node.keys is not None else None
    items = [_via(v, via) for v in node.items] if node.items is not None else None
    return Node(hist, keys=keys, items=items, gone=node.gone)


def _deep(base: Node, over: Node) -> Node:
    """:func:`cfgc.compile.merging.deep_merge` on nodes: inherited history first."""
    if over.gone:
        return base
    if base.gone:
        return over
    if base.keys is not None and over.keys is not None:
        keys = dict(base.keys)
        for k, v in over.keys.items():
            keys[k] = _deep(keys[k], v) if k in keys and not v.gone else keys.get(k, v)
        return Node([*base.hist, *over.hist], keys=keys)
    return Node([*base.hist, *over.hist], keys=over.keys, items=over.items)
