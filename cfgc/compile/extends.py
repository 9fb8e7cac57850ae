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
from cfgc.compile.walk import scan, shape

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
    r = _Resolver(root, locate, *shape(paths), memo)
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

    ``by_content`` also finds a mapping of scalars by its content: a
    target's own file that overrides ``models.primary.timeout_s`` makes a
    new ``primary`` mapping in every target, but the same few contents over
    the same base objects.  Such a mapping (string keys, each value a str,
    int, bool, None or float, by exact type, a float by its ``repr`` so
    ``-0.0`` and ``0.0`` stay apart) is keyed by its items in order, which
    is all the merge reads of it (a deep merge copies scalars as they are,
    and equal strings or numbers of one type are interchangeable in every
    later stage and in the encoded bundle), plus the identity of every
    base as before.  The targets then share the result like any other
    subtree.
    """

    def __init__(self, size: int = 1024, shared: SharedNodes | None = None, by_content: bool = False) -> None:
        self.size = size
        # A result found again is shared by targets like the shared layers'
        # values: registered, later walks of a target reuse their results for it.
        self.shared = shared
        self.by_content = by_content
        self._entries: dict[tuple[Any, ...], tuple[Any, tuple[Any, ...], dict[str, Any]]] = {}

    def _key(self, value: dict[str, Any], bases: list[Any]) -> tuple[Any, ...]:
        # A registered (shared) mapping will be met again as the same object.
        if self.by_content and (self.shared is None or self.shared.entry(value) is None):
            content = scalar_items(value)
            if content is not None:
                return (content, *map(id, bases))
        return (id(value), *map(id, bases))

    def get(self, value: dict[str, Any], bases: list[Any]) -> dict[str, Any] | None:
        """The result stored for exactly these objects (or this content), or None."""
        # A shared mapping is found by identity first (no key to build); a
        # target's own one by its content.
        ids = tuple([id(b) for b in bases])
        entries = self._entries
        key: tuple[Any, ...] = (id(value), *ids)
        hit = entries.pop(key, None)
        if hit is None and self.by_content:
            content = scalar_items(value)
            if content is not None:
                key = (content, *ids)
                hit = entries.pop(key, None)
        if hit is None:
            return None
        entries[key] = hit  # the most recently used goes last
        same = hit[0] is value or type(key[0]) is tuple  # a content key compared the content
        held = hit[1]
        if not same or len(held) != len(bases):
            return None  # unreachable while entries hold their objects; checked anyway
        for a, b in zip(held, bases, strict=True):  # (lengths checked above)
            if a is not b:
                return None  # as above
        result = hit[2]
        shared = self.shared
        if shared is not None:
            e = shared.nodes.get(id(result))
            if e is None or e[0] is not result:  # registered once, not on every hit
                shared.add(result)
        return result

    def put(self, value: dict[str, Any], bases: list[Any], result: dict[str, Any]) -> None:
        """Remember ``result`` as the resolution of ``value`` over ``bases``."""
        self._entries[self._key(value, bases)] = (value, tuple(bases), result)
        if len(self._entries) > self.size:
            del self._entries[next(iter(self._entries))]


_SCALARS = (str, int, bool, type(None))


def scalar_items(value: dict[str, Any]) -> tuple[Any, ...] | None:
    """The items of a mapping of scalars as a hashable key, or None.

    Keys are strings; each value is keyed with its exact type (``1``,
    ``1.0`` and ``True`` differ), a float by its ``repr``.
    """
    out: list[Any] = []
    for k, v in value.items():
        t = type(v)
        if type(k) is not str:
            return None
        if t is float:
            out += (k, t, repr(v))
        elif t in _SCALARS:
            out += (k, t, v)
        else:
            return None
    return tuple(out)


class _Resolver:
    def __init__(
        self, root: Any, locate: Locator, dirty: frozenset[Path], kids: dict[Path, frozenset[Any]], memo: Memo | None
    ) -> None:
        self.root = root
        self.memo = memo
        self.locate = locate
        self.dirty = dirty  # paths at or above a $extends: the only ones rebuilt
        self.kids = kids
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

        # A single dotted path is the common case: checked without a generator.
        if type(refs) is str and refs:
            refs = (refs,)
        else:
            if isinstance(refs, str):
                refs = [refs]
            if not isinstance(refs, list) or not refs or not all(isinstance(r, str) and r for r in refs):
                raise error("$extends takes a dotted path or a list of dotted paths")
        objs: list[Any] = []
        bases: list[Path] = []
        dirty = self.dirty
        for ref in refs:
            base_path = _parse_ref(ref)
            if base_path == path[: len(base_path)]:
                raise error(f"$extends cycle: {dotted(path)} extends its own ancestor {ref}")
            raw = get_path(self.root, base_path)
            if raw is MISSING:
                chain = " -> ".join(dotted(p) for p in [*self.hops, path, base_path])
                raise error(f"$extends: {ref!r} does not exist in this target ({chain})")
            if base_path in dirty:  # only a base with $extends at or below it needs resolving
                self.hops.append(path)
                try:
                    base = self._base(base_path, raw)
                finally:
                    self.hops.pop()
            else:
                base = raw
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
