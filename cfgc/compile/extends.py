"""``$extends``: late-bound inheritance between mappings of one target.

A mapping with ``$extends: dotted.path`` (or a list of paths) gets the final
value of each base deep-merged under its own keys.  Resolution happens after
all layers are merged, so a higher layer that changes a base reaches every
mapping that extends it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from cfgc.base.errors import InputError, Location
from cfgc.base.loading import Path
from cfgc.base.shared_nodes import SharedNodes
from cfgc.compile.merging import MISSING, deep_merge, dotted, get_path, parse_dotted, type_name
from cfgc.compile.walk import children, prefixes, scan

EXTENDS = "$extends"
Locator = Callable[[Path], Location]
# Every target parses the same few references again; a path is an immutable
# tuple, a pure function of the (string) reference.
_parse_ref = lru_cache(maxsize=4096)(parse_dotted)


def resolve_extends(
    root: Any, locate: Locator, paths: list[Path] | None = None, memo: Memo | None = None
) -> tuple[Any, dict[Path, tuple[Path, ...]]]:
    """Resolve every ``$extends`` in ``root``.

    ``paths`` lists the mappings that hold ``$extends`` when the caller has
    found them already.  ``memo`` (a :class:`Memo` kept across the targets
    of one compiler) reuses a resolved mapping another target already built
    from the very same objects.  Returns the resolved value and, for
    provenance, a map from each extending mapping's path to the base paths
    it inherited from.
    """
    if paths is None:
        paths = scan(root, want_templates=False).extends
    if not paths:
        return root, {}
    r = _Resolver(root, locate, prefixes(paths), memo)
    return r.resolve((), root), r.origins


class Memo:
    """Resolved ``$extends`` mappings by the identity of what they were built from.

    Targets that share layers share those layers' objects (the compiler merges
    the shared layers once), so ``models.fast: {$extends: providers.openai}``
    from an environment file is the same mapping, extending the same base
    object, in each of that environment's targets.  The merge of a mapping
    with no ``$extends`` below it is a pure function of the mapping and its
    resolved bases, and parsed values are never changed in place (the whole
    compiler shares them), so the same objects give the same result, which
    the targets then share like any other subtree.  The key is the identity
    of the mapping and of every base; each entry holds those objects, so an
    identity cannot be reused by another object while its entry lives, and
    a hit is also checked object by object.  Bounded: the least recently
    used entry goes beyond ``size``.
    """

    def __init__(self, size: int = 1024, shared: SharedNodes | None = None) -> None:
        self.size = size
        # A result found again is shared by targets like the shared layers'
        # values: registered, later walks of a target reuse their results for it.
        self.shared = shared
        self._entries: dict[tuple[int, ...], tuple[Any, tuple[Any, ...], dict[str, Any]]] = {}

    def get(self, value: Any, bases: list[Any]) -> dict[str, Any] | None:
        """The result stored for exactly these objects, or None."""
        key = (id(value), *map(id, bases))
        hit = self._entries.pop(key, None)
        if hit is None:
            return None
        self._entries[key] = hit  # the most recently used goes last
        if hit[0] is not value or any(a is not b for a, b in zip(hit[1], bases, strict=True)):
            return None  # unreachable while entries hold their objects; checked anyway
        if self.shared is not None:
            self.shared.add(hit[2])
        return hit[2]

    def put(self, value: Any, bases: list[Any], result: dict[str, Any]) -> None:
        """Remember ``result`` as the resolution of ``value`` over ``bases``."""
        self._entries[(id(value), *map(id, bases))] = (value, tuple(bases), result)
        if len(self._entries) > self.size:
            del self._entries[next(iter(self._entries))]


class _Resolver:
    def __init__(self, root: Any, locate: Locator, dirty: set[Path], memo: Memo | None) -> None:
        self.root = root
        self.memo = memo
        self.locate = locate
        self.dirty = dirty  # paths at or above a $extends: the only ones rebuilt
        self.kids = children(dirty)
        self.done: dict[Path, Any] = {}
        self.stack: list[Path] = []
        self.origins: dict[Path, tuple[Path, ...]] = {}
        self.hops: list[Path] = []  # the extending mappings whose bases are being resolved

    def resolve(self, path: Path, value: Any) -> Any:
        if path not in self.dirty:
            return value
        if path in self.done:
            return self.done[path]
        if path in self.stack:
            chain = self.stack[self.stack.index(path) :] + [path]
            raise InputError(
                "$extends cycle: " + " -> ".join(dotted(p) for p in chain),
                self.locate((*self.stack[-1], EXTENDS)),
            )
        out: Any
        if type(value) is dict:
            self.stack.append(path)
            try:
                out = self._mapping(path, value)
            finally:
                self.stack.pop()
        elif type(value) is list:
            self.stack.append(path)
            try:
                kids = self.kids.get(path, ())
                out = [self.resolve((*path, i), v) if i in kids else v for i, v in enumerate(value)]
            finally:
                self.stack.pop()
        else:
            return value
        self.done[path] = out
        return out

    def _mapping(self, path: Path, value: dict[str, Any]) -> dict[str, Any]:
        kids = self.kids.get(path, ())
        # Resolving the children first keeps the order errors are found in;
        # without any below, ``own`` is just a copy, made only if needed.
        own = None
        if kids:
            own = {k: self.resolve((*path, k), v) if k in kids else v for k, v in value.items() if k != EXTENDS}
        if EXTENDS not in value:
            return own if own is not None else dict(value)
        refs = value[EXTENDS]

        def error(message: str) -> InputError:
            # Locating needs source marks: only on the error path.
            return InputError(message, self.locate((*path, EXTENDS)))

        if isinstance(refs, str):
            refs = [refs]
        if not isinstance(refs, list) or not refs or not all(isinstance(r, str) and r for r in refs):
            raise error("$extends takes a dotted path or a list of dotted paths")
        objs: list[Any] = []
        bases: list[Path] = []
        for ref in refs:
            base_path = _parse_ref(ref)
            if base_path == path[: len(base_path)]:
                raise error(f"$extends cycle: {dotted(path)} extends its own ancestor {ref}")
            raw = get_path(self.root, base_path)
            if raw is MISSING:
                chain = " -> ".join(dotted(p) for p in [*self.hops, path, base_path])
                raise error(f"$extends: {ref!r} does not exist in this target ({chain})")
            self.hops.append(path)
            try:
                base = self._base(base_path, raw)
            finally:
                self.hops.pop()
            if type(base) is not dict:
                raise error(f"$extends: {ref!r} is {type_name(base)}, not a mapping")
            objs.append(base)
            bases.append(base_path)
        self.origins[path] = tuple(bases)
        memo = self.memo if own is None else None  # a resolved child is this target's own object
        if memo is not None:
            hit = memo.get(value, objs)
            if hit is not None:
                return hit
        merged: Any = {}
        for base in objs:
            merged = deep_merge(merged, base)
        if own is None:
            own = {k: v for k, v in value.items() if k != EXTENDS}
        result: dict[str, Any] = deep_merge(merged, own)
        if memo is not None:
            memo.put(value, objs, result)
        return result

    def _base(self, base_path: Path, raw: Any) -> Any:
        # The base is resolved in turn, so chains of $extends work; a key that a
        # base's own ancestor would inherit is out of reach (documented).
        return self.resolve(base_path, raw)
