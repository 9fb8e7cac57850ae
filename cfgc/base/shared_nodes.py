"""Walk results of the subtrees that many targets share, found by identity.

The compiler merges the layers a group of targets shares once and merges
each target's own file over that value; every subtree the own file does not
touch is the shared object itself, in every target of the group.  A walk
over a target (templates, ``$extends``, prompt references, secret
references) then finds the same things in those subtrees every time.
:class:`SharedNodes` registers the containers of such a shared value and
keeps each walk's result for each of them, relative to the subtree; a walk
that meets a registered subtree adds the kept result under its own path
instead of walking it.

Sound because parsed and merged values are never changed in place (the
whole compiler shares them, :class:`cfgc.compile.extends.Memo` relies on
the same rule), so a walk's result is a function of the object.  The key is
the object's identity; each entry holds its object, so an identity cannot be
reused by another object while the entry lives, and a hit is checked
object by object.  Bounded: at most ``limit`` containers are registered
(those after it are walked as before); the objects are the shared values the
compiler keeps anyway, and each entry adds only its walks' results.
"""

from __future__ import annotations

from typing import Any

SCAN = 1  # cfgc.compile.walk.scan's Found
REFS = 2  # cfgc.base.secretrefs.secret_refs's relative list


class SharedNodes:
    """Registered shared containers: ``id`` → ``[object, scan result, refs result]``."""

    __slots__ = ("limit", "nodes")

    def __init__(self, limit: int = 200_000) -> None:
        self.limit = limit
        # Walks read this directly (a method call per container cost more
        # than the lookup); an entry counts only if its object is the node.
        self.nodes: dict[int, list[Any]] = {}

    def add(self, root: Any) -> None:
        """Register every container of ``root`` (a value no one will change)."""
        nodes = self.nodes
        stack = [root]
        while stack:
            node = stack.pop()
            t = type(node)
            if t is dict:
                kids: Any = node.values()
            elif t is list:
                kids = node
            else:
                continue
            if len(nodes) >= self.limit:
                return
            if id(node) in nodes:
                continue  # shared twice within one value: its subtree is on the way already
            nodes[id(node)] = [node, None, None]
            stack.extend(v for v in kids if type(v) is dict or type(v) is list)

    def entry(self, node: Any) -> list[Any] | None:
        """The entry of ``node`` itself, or None if it is not registered."""
        e = self.nodes.get(id(node))
        return e if e is not None and e[0] is node else None

    def __len__(self) -> int:
        return len(self.nodes)
