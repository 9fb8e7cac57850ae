"""Where each value of a compiled target came from.

Provenance is computed on demand from the layer documents rather than carried
through the merge: the fast path of a build allocates nothing for it, and an
error, ``cfgc explain`` or a diff asks only for the few paths it reports.  The
first question replays the merge and ``$extends`` with bookkeeping
(:mod:`cfgc.compile.trace`); later questions are walks of that tree.
"""

from __future__ import annotations

from collections.abc import Callable

from cfgc.base.errors import Location
from cfgc.base.loading import Document, Path, decode
from cfgc.base.tags import DELETE
from cfgc.compile.key_lines import key_line
from cfgc.compile.trace import EXTENDS, Contribution, Node, Prefixes, trace_extends, trace_layers

__all__ = ["Contribution", "Provenance", "layer_history"]


def layer_history(docs: tuple[Document, ...], path: Path) -> list[Contribution]:
    """Contributions of ``docs`` to ``path``, lowest precedence first.

    Contributions that a later layer discarded (by ``!replace`` or by
    replacing an ancestor) are dropped, so the list ends with the layer whose
    value is in force; a key removed by ``!delete`` lists what it removed and
    then the delete.
    """
    return Provenance(docs, {}).history(path)


class Provenance:
    """Provenance queries for one compiled target."""

    def __init__(self, docs: tuple[Document, ...], origins: dict[Path, tuple[Path, ...]],
                 prefixes: Prefixes | None = None) -> None:
        self.docs = docs
        self.prefixes = prefixes  # the compiler's traced prefixes (:data:`cfgc.compile.trace.Prefixes`)
        self.origins = origins  # mapping path -> the $extends bases merged under it
        self._tree: Node | None = None
        self._traced = -1  # len(origins) when traced: the compiler fills origins in place
        self._layers: Node | None = None  # the merge alone, before ``$extends``
        self._texts: dict[str, str] = {}  # the own layer file's text, read for :func:`key_line`

    @property
    def tree(self) -> Node:
        """The traced tree of the target (built on first use)."""
        if self._tree is None or self._traced != len(self.origins):
            self._tree = trace_extends(trace_layers(self.docs, self.prefixes), self.origins)
            self._traced = len(self.origins)
        return self._tree

    def node(self, path: Path) -> tuple[Node, int]:
        """The deepest traced node on ``path`` and how many keys of ``path`` it covers.

        A node can end early: a whole-value template (``"{{ config.x }}"``)
        may render a mapping or a list that no layer spelled out.
        """
        node = self.tree
        for i, key in enumerate(path):
            nxt = node.child(key)
            if nxt is None:
                return node, i
            node = nxt
        return node, len(path)

    def history(self, path: Path) -> list[Contribution]:
        """Every contribution to ``path`` in merge order, including through
        ``$extends`` (with ``via``); empty when no layer set it."""
        node, depth = self.node(path)
        return list(node.hist) if depth == len(path) else []

    def locate(self, path: Path) -> Location:
        """The location of the layer that set ``path``, or of its nearest ancestor."""
        if self._tree is None:
            last = self._last_sets(path)
            if last is not None:
                return last
            if self._layers is None:
                self._layers = trace_layers(self.docs, self.prefixes)
            if not self._extended(path):
                # Only the histories along ``path`` are read, and ``$extends``
                # changes none of them when it resolved no node on that path
                # (``trace_extends`` keeps every other node's history and keys,
                # minus ``$extends`` keys): the merge alone answers, without
                # resolving the whole target (most of a diff's locating time).
                return _locate(self._layers, path, self.docs)
            own = _own_location(self._layers, path, self._text)
            if own is not None:
                return own
        for i in range(len(path), -1, -1):
            hist = self.history(path[:i])
            if hist:
                return hist[-1].location
        return _fallback(self.docs)

    def _last_sets(self, path: Path) -> Location | None:
        """Where the last layer sets ``path``, when it spells out every key of
        it through plain mappings (and deletes none), else None.

        Nothing merges after the last layer, so its contribution is the last
        of the path's history in the merge (``_merge`` appends it after the
        lower layers'), and ``$extends`` keeps a live own node's history last
        (see :func:`_own_location`): the answer of both traced trees, without
        tracing the last layer onto its prefix (a check locating one policy
        finding in each of thousands of targets' own files).
        """
        if not path or EXTENDS in path or not self.docs:
            return None
        doc = self.docs[-1]
        value = doc.data
        for key in path:
            if type(value) is not dict or type(key) is not str:
                return None
            value = value.get(key, DELETE)
            if value is DELETE:  # absent, or deleted: the lower layers or a base decide
                return None
        own = self._text(doc)
        at = key_line(own, path) if own is not None else None
        return Location(doc.path, at[0], at[1]) if at is not None else doc.location(path)

    def _text(self, doc: Document) -> str | None:
        """The text of ``doc`` when it is this target's own (last) layer file
        loaded without marks, else None.

        Only the own file: it is released after its target (its marks would
        be parsed again for each target anyway), whereas a shared layer's
        marks, parsed once, serve every target that reads it.
        """
        if not self.docs or doc is not self.docs[-1] or doc._marks is not None or doc.reload is None:
            return None
        text = self._texts.get(doc.path)
        if text is None:
            text = self._texts[doc.path] = decode(doc.reload(), doc.path)
        return text

    def _extended(self, path: Path) -> bool:
        """Whether ``$extends`` touched a node on ``path`` (or ``path`` names one)."""
        origins = self.origins
        return EXTENDS in path or any(path[:i] in origins for i in range(len(path) + 1))


def _locate(root: Node, path: Path, docs: tuple[Document, ...]) -> Location:
    """:meth:`Provenance.locate` on the traced tree ``root``."""
    nodes = [root]
    for key in path:
        nxt = nodes[-1].child(key)
        if nxt is None:
            break
        nodes.append(nxt)
    for node in reversed(nodes):
        if node.hist:
            return node.hist[-1].location
    return _fallback(docs)


def _own_location(root: Node, path: Path, text: Callable[[Document], str | None]) -> Location | None:
    """Where the layers themselves set ``path`` when ``$extends`` resolved a
    node on it, or None when only the resolved tree can tell.

    ``trace_extends`` puts a node's inherited history *before* its own
    (``_deep(bases, own)``), keeps its own children under it and never
    replaces a live own node with a base's: so when the layers set every key
    of ``path`` (no ``$extends`` key on it, no deleted node along it), the
    last contribution in force is the layers' own, wherever ``$extends``
    merged.  Anything else (a value only a base supplies, a tombstone whose
    place a base takes) is left to the resolved tree.  A check locating one
    policy finding per target (a model that extends a provider) then replays
    none of the target's ``$extends``; and when the last contribution is the
    target's own file (``text`` gives its text), the key's line is read from
    the text (:func:`key_line`) rather than by parsing the file again.
    """
    if EXTENDS in path:
        return None
    node = root
    for key in path:
        nxt = node.child(key)
        if nxt is None or nxt.gone:
            return None
        node = nxt
    if not node.hist:
        return None
    last = node.hist[-1]
    where = last.where
    if type(where) is tuple:
        doc, keypath = where
        own = text(doc)
        at = key_line(own, keypath) if own is not None else None
        if at is not None:
            return Location(doc.path, at[0], at[1])
    return last.location


def _fallback(docs: tuple[Document, ...]) -> Location:
    last = docs[-1] if docs else None
    return last.location() if last else Location("cfgc.yaml", 1, 1)
