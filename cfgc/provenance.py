"""Where each value of a compiled target came from.

Provenance is computed on demand from the layer documents rather than carried
through the merge: the fast path of a build allocates nothing for it, and an
error, ``cfgc explain`` or a diff asks only for the few paths it reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cfgc.errors import Location
from cfgc.loading import Document, Path
from cfgc.tags import DELETE, Append, Prepend, Replace


@dataclass(frozen=True)
class Contribution:
    """One layer's contribution to a value; ``via`` names an ``$extends`` base."""

    location: Location
    value: Any
    action: str  # "set", "merge", "replace", "append", "prepend", "delete"
    via: str | None = None


def layer_history(docs: tuple[Document, ...], path: Path) -> list[Contribution]:
    """Contributions of ``docs`` to ``path``, lowest precedence first.

    Contributions that a later layer discarded (by ``!replace``, by replacing
    an ancestor or by ``!delete``) are dropped, so the list ends with the
    layer whose value is in force.
    """
    hist: list[Contribution] = []
    for doc in docs:
        node = doc.data
        reset = False
        found = True
        for i, key in enumerate(path):
            if type(node) is Replace:
                reset = True
                node = node.value
            if type(node) is dict:
                if key not in node:
                    found = False
                    break
                node = node[key]
            elif type(node) is list:
                reset = True
                if type(key) is int and 0 <= key < len(node):
                    node = node[key]
                else:
                    found = False
                    break
            elif type(node) in (Append, Prepend):
                hist.append(Contribution(doc.location(path[:i]), node, _action(node)))
                found = False
                break
            else:
                if node is not None or i > 0:
                    reset = True
                found = False
                break
        if reset:
            hist.clear()
        if not found:
            continue
        action = _action(node)
        if action in ("replace", "delete"):
            hist.clear()
        hist.append(Contribution(doc.location(path), _shown(node), action))
    return hist


def _action(node: Any) -> str:
    if type(node) is Replace:
        return "replace"
    if node is DELETE:
        return "delete"
    if type(node) is Append:
        return "append"
    if type(node) is Prepend:
        return "prepend"
    if type(node) is dict:
        return "merge"
    return "set"


def _shown(node: Any) -> Any:
    if type(node) is Replace:
        return node.value
    if type(node) in (Append, Prepend):
        return list(node.items)
    if node is DELETE:
        return None
    return node


class Provenance:
    """Provenance queries for one compiled target."""

    def __init__(self, docs: tuple[Document, ...], origins: dict[Path, tuple[Path, ...]]) -> None:
        self.docs = docs
        self.origins = origins  # mapping path -> the $extends bases merged under it

    def history(self, path: Path, _depth: int = 0) -> list[Contribution]:
        """Every contribution to ``path``, including through ``$extends``."""
        inherited: list[Contribution] = []
        if _depth < 32:
            for i in range(len(path), -1, -1):
                bases = self.origins.get(path[:i])
                if not bases:
                    continue
                rest = path[i:]
                for base in bases:
                    via = ".".join(map(str, base))
                    for c in self.history((*base, *rest), _depth + 1):
                        inherited.append(c if c.via else Contribution(c.location, c.value, c.action, via))
                break
        own = layer_history(self.docs, path)
        if own and own[-1].action in ("replace", "set", "delete") and type(own[-1].value) is not dict:
            return own if not inherited else [*inherited, *own]
        return [*inherited, *own]

    def locate(self, path: Path) -> Location:
        """The location of the layer that set ``path``, or of its nearest ancestor."""
        p = path
        while True:
            hist = self.history(p)
            if hist:
                return hist[-1].location
            if not p:
                last = self.docs[-1] if self.docs else None
                return last.location() if last else Location("cfgc.yaml", 1, 1)
            p = p[:-1]
