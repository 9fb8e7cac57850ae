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
from cfgc.compile.merging import MISSING, deep_merge, dotted, get_path, parse_dotted, type_name
from cfgc.compile.walk import children, prefixes, scan

EXTENDS = "$extends"
Locator = Callable[[Path], Location]
# Every target parses the same few references again; a path is an immutable
# tuple, a pure function of the (string) reference.
_parse_ref = lru_cache(maxsize=4096)(parse_dotted)


def resolve_extends(
    root: Any, locate: Locator, paths: list[Path] | None = None
) -> tuple[Any, dict[Path, tuple[Path, ...]]]:
    """Resolve every ``$extends`` in ``root``.

    ``paths`` lists the mappings that hold ``$extends`` when the caller has
    found them already.  Returns the resolved value and, for provenance, a map
    from each extending mapping's path to the base paths it inherited from.
    """
    if paths is None:
        paths = scan(root, want_templates=False).extends
    if not paths:
        return root, {}
    r = _Resolver(root, locate, prefixes(paths))
    return r.resolve((), root), r.origins


class _Resolver:
    def __init__(self, root: Any, locate: Locator, dirty: set[Path]) -> None:
        self.root = root
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
        own = {k: self.resolve((*path, k), v) if k in kids else v for k, v in value.items() if k != EXTENDS}
        if EXTENDS not in value:
            return own
        refs = value[EXTENDS]

        def error(message: str) -> InputError:
            # Locating needs source marks: only on the error path.
            return InputError(message, self.locate((*path, EXTENDS)))

        if isinstance(refs, str):
            refs = [refs]
        if not isinstance(refs, list) or not refs or not all(isinstance(r, str) and r for r in refs):
            raise error("$extends takes a dotted path or a list of dotted paths")
        merged: Any = {}
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
            merged = deep_merge(merged, base)
            bases.append(base_path)
        self.origins[path] = tuple(bases)
        result: dict[str, Any] = deep_merge(merged, own)
        return result

    def _base(self, base_path: Path, raw: Any) -> Any:
        # The base is resolved in turn, so chains of $extends work; a key that a
        # base's own ancestor would inherit is out of reach (documented).
        return self.resolve(base_path, raw)
