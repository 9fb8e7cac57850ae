"""Rebuilt containers found again by what they hold, so targets share them.

The late stages rebuild the mappings on the way to what they change: the
template stage rebuilds ``providers`` and ``providers.bedrock`` to put the
rendered ``endpoint_url`` in, ``$extends`` rebuilds ``models`` around the
resolved models.  For the targets of one group these rebuilds mostly hold the
same things, yet each is a new object, so every later walk (secret
references, schema validation) goes through it again.  :class:`Interner`
returns the object an earlier target built when a new one holds the same
items, and registers it with :class:`cfgc.base.shared_nodes.SharedNodes`, so
later walks reuse their results for it like for any shared subtree.

The key of a container is its items in order: a key (a string, or a list
index) with, for a scalar, its exact type and value (a float by its
``repr``: ``1``, ``1.0`` and ``True`` differ, ``-0.0`` and ``0.0`` too) and,
for a container, its identity, allowed only for a registered shared
container (one no one changes; anything else makes the container not
interned); a copy of a registered container with some children replaced
(:meth:`Interner.rebuilt`) is keyed by the identity of that container and
the replaced children only.  Equal keys mean equal content of the same types, and equal
strings or numbers of one type are interchangeable in every later stage and
in the encoded bundle; values are never changed in place, so a shared result
is as good as a new copy.  Each entry holds its result, which holds every
container its key names (and, for a rebuilt copy, the container it copies),
so an identity in a key cannot be reused by another object while the entry
lives.  Bounded: the least recently used entry goes
beyond ``size``; a container with more than ``MAX_ITEMS`` items is not
interned (its key would cost more than the walks it saves).
"""

from __future__ import annotations

from typing import Any

from cfgc.base.shared_nodes import SharedNodes

MAX_ITEMS = 64
_SCALARS = (str, int, bool, type(None))


class Interner:
    """Rebuilt dicts and lists by content: see the module docstring."""

    __slots__ = ("_entries", "shared", "size")

    def __init__(self, shared: SharedNodes, size: int = 4096) -> None:
        self.shared = shared
        self.size = size
        self._entries: dict[tuple[Any, ...], tuple[Any, Any]] = {}  # key -> (result, the raw it copies)

    def intern(self, value: Any) -> Any:
        """``value`` or an equal container met before (then registered as shared)."""
        key = self.key(value)
        return value if key is None else self._find(key, value, None)

    def rebuilt(self, raw: Any, value: Any, changed: Any) -> Any:
        """Like :meth:`intern` for ``value``, a copy of ``raw`` with the
        children at the keys in ``changed`` replaced: when ``raw`` is a
        registered shared container, the key is its identity and those
        children only (the entry then holds ``raw`` too)."""
        nodes = self.shared.nodes
        e = nodes.get(id(raw))
        if e is None or e[0] is not raw or type(raw) is not type(value) or len(raw) != len(value):
            return self.intern(value)
        out: list[Any] = [id(raw)]
        for k in raw if type(raw) is dict else range(len(raw)):
            if k in changed:
                v = value[k]
                tv = type(v)
                if tv is dict or tv is list:
                    e = nodes.get(id(v))
                    if e is None or e[0] is not v:
                        return value
                    out += (k, None, id(v))
                elif tv is float:
                    out += (k, tv, repr(v))
                elif tv in _SCALARS:
                    out += (k, tv, v)
                else:
                    return value
        return self._find(tuple(out), value, raw)

    def _find(self, key: tuple[Any, ...], value: Any, holds: Any) -> Any:
        entries = self._entries
        hit = entries.pop(key, None)
        if hit is None:
            entries[key] = (value, holds)
            if len(entries) > self.size:
                del entries[next(iter(entries))]
            return value
        entries[key] = hit  # the most recently used goes last
        found = hit[0]
        if holds is not None and hit[1] is not holds:
            return value  # unreachable while entries hold their objects; checked anyway
        e = self.shared.nodes.get(id(found))
        if e is None or e[0] is not found:
            self.shared.add(found)
        return found

    def key(self, value: Any) -> tuple[Any, ...] | None:
        """The content key of a dict or list, or None if it cannot be interned."""
        t = type(value)
        if t is dict:
            items: Any = value.items()
        elif t is list:
            items = enumerate(value)
        else:
            return None
        if len(value) > MAX_ITEMS:
            return None
        nodes = self.shared.nodes
        out: list[Any] = [t]
        for k, v in items:
            tv = type(v)
            if type(k) is not str and type(k) is not int:
                return None
            if tv is dict or tv is list:
                e = nodes.get(id(v))
                if e is None or e[0] is not v:
                    return None  # a container no one shares: nothing to find again
                out += (k, None, id(v))
            elif tv is float:
                out += (k, tv, repr(v))
            elif tv in _SCALARS:
                out += (k, tv, v)
            else:
                return None
        return tuple(out)
