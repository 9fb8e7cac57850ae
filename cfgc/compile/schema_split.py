"""Schema validation of a target by its top-level keys, shared subtrees once.

jsonschema-rs converts the whole target on every call (about 60 µs a target
of the 10,000-target corpus), though most of a target's subtrees are the
very objects its neighbours hold (:mod:`cfgc.base.shared_nodes`).  For a
schema whose top level only lists properties and required keys, a target is
valid exactly when it is a mapping, holds every required key, and each of
its keys that ``properties`` names is valid against that subschema: no
keyword relates two top-level keys.  :class:`Split` checks it that way,
validating the subtree of each shared (registered) key once and remembering
the answer by the subtree's identity, and the other keys in one call.

Only schemas of that shape are split (:func:`split_of`; anything else, and any
doubt, validates the whole target as before):

* the top level has only ``$schema`` (absent or draft 2020-12), ``$id``,
  ``title``, ``description``, ``$comment``, ``type: object``, ``required``,
  ``properties``, ``$defs``: no ``additionalProperties``,
  ``patternProperties``, ``unevaluatedProperties``, ``allOf``, ``if``,
  ``dependentRequired``, ``minProperties``, ``propertyNames``, ``$ref``...;
* property names are plain (letters, digits, ``_``, ``-``); the keys are
  checked against the rule's own schema object with ``required`` left out
  (so ``{key: subtree}`` is checked by that key's subschema alone, resolved
  exactly as in the whole validation: never by looking its base URI up in the
  registry, where another schema file could claim the same URI);
* no ``$id`` inside ``properties`` (a new base part-way down) and no
  ``$dynamicRef``/``$recursiveRef``/their anchors in any schema file (their
  resolution depends on the path taken from the root).

Each key's subtree is validated with its secret references replaced by
placeholders (as the whole target is); the references of a subtree are all
in the subtree, so that is a function of the subtree object.  The memo key
is (key, identity of the subtree), for registered subtrees only; each entry
holds its subtree, so an identity cannot be reused while it lives.  Bounded:
at most ``MAX_MEMO`` entries per schema, later ones are validated each time.
Only the accept path is split: a target found invalid (or whose check
raised) is validated whole, by the code that reports errors, exactly as
before.  tests/unit/compile/test_schema_split.py holds split and whole
validation to the same answer on generated schemas and values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from cfgc.base.loading import Path
from cfgc.base.shared_nodes import SharedNodes
from cfgc.compile.walk import replace_at

MAX_MEMO = 100_000
MAX_PLACED = 4096  # placed copies of shared subtrees kept (Placements), the oldest dropped first
_TOP = frozenset(("$schema", "$id", "title", "description", "$comment", "type", "required", "properties", "$defs"))
_DRAFTS = frozenset(("https://json-schema.org/draft/2020-12/schema", "https://json-schema.org/draft/2020-12/schema#"))
_NAME = re.compile(r"[A-Za-z0-9_-]+\Z")
_DYNAMIC = ('"$dynamicRef"', '"$dynamicAnchor"', '"$recursiveRef"', '"$recursiveAnchor"')


class Split:
    """A schema checked key by key (see the module docstring)."""

    def __init__(self, required: tuple[str, ...], names: frozenset[str], fast: Any) -> None:
        self.required = required
        self.names = names
        self.fast = fast  # jsonschema-rs validator of {"properties": {name: {"$ref": ...}}}
        self._memo: dict[tuple[str, int], tuple[Any, bool]] = {}

    def is_valid(self, value: Any, placed: Placements, shared: SharedNodes | None) -> bool:
        """Whether ``value`` is valid; ``placed`` gives each top-level key's
        subtree with its secret references as placeholders."""
        if type(value) is not dict:
            return False
        for r in self.required:
            if r not in value:
                return False
        names = self.names
        memo = self._memo
        nodes = shared.nodes if shared is not None else {}
        rest: dict[str, Any] = {}
        for k, sub in value.items():
            if type(k) is not str:
                return False  # as the whole target's conversion would see it: not split
            if k not in names:
                continue  # nothing at the top level constrains other keys
            t = type(sub)
            if t is dict or t is list:
                e = nodes.get(id(sub))
                if e is not None and e[0] is sub:
                    hit = memo.get((k, id(sub)))
                    if hit is not None and hit[0] is sub:
                        ok = hit[1]
                    else:
                        ok = bool(self.fast.is_valid({k: placed.subtree(k, sub)}))
                        if len(memo) < MAX_MEMO:
                            memo[k, id(sub)] = (sub, ok)
                    if not ok:
                        return False
                    continue
            rest[k] = placed.subtree(k, sub)
        return not rest or bool(self.fast.is_valid(rest))


class Placements:
    """Each top-level key's subtree with its secret references replaced by
    placeholders, made once per target for all of its schemas.

    A registered (shared) subtree's references are all of its own, so its
    placed copy is a function of the object: ``cache`` (kept across targets,
    at most ``MAX_PLACED`` entries, each holding its object) gives it again,
    and a target's own mapping over shared children (``models`` over the
    ``$extends`` results) copies only itself.  Equal to ``replace_at(sub,
    paths)`` (tests/unit/compile/test_schema_split_place.py).
    """

    def __init__(
        self,
        paths: dict[str, dict[Path, Any]],
        shared: SharedNodes | None,
        cache: dict[int, tuple[Any, Any]] | None,
    ) -> None:
        self.paths = paths
        self.nodes = shared.nodes if shared is not None else None
        self.cache = cache
        self._done: dict[str, tuple[Any, Any]] = {}

    def subtree(self, key: str, sub: Any) -> Any:
        """``sub`` (the subtree at ``key``) with its references placed."""
        paths = self.paths.get(key)
        if not paths:
            return sub
        done = self._done.get(key)
        if done is not None and done[0] is sub:
            return done[1]
        out = self._placed(sub, paths)
        self._done[key] = (sub, out)
        return out

    def _placed(self, sub: Any, paths: dict[Path, Any]) -> Any:
        nodes = self.nodes
        cache = self.cache
        t = type(sub)
        if () in paths or nodes is None or cache is None or (t is not dict and t is not list):
            return replace_at(sub, paths)
        groups: dict[Any, dict[Path, Any]] = {}
        for p, value in paths.items():
            groups.setdefault(p[0], {})[p[1:]] = value
        out: Any = dict(sub) if t is dict else list(sub)
        for k, rel in groups.items():
            if t is dict:
                if k not in sub:
                    continue  # as replace_at: a path that is not there is ignored
            elif not (type(k) is int and 0 <= k < len(sub)):
                continue
            child = sub[k]
            e = nodes.get(id(child))
            if () in rel or e is None or e[0] is not child:
                out[k] = replace_at(child, rel)
                continue
            hit = cache.get(id(child))
            if hit is not None and hit[0] is child:
                out[k] = hit[1]
                continue
            out[k] = placed = replace_at(child, rel)
            cache[id(child)] = (child, placed)
            if len(cache) > MAX_PLACED:
                del cache[next(iter(cache))]  # the oldest: a build moves from group to group
        return out


# A target without secrets (most targets of most repos): nothing to place, no object to make.
_NO_SECRETS = Placements({}, None, None)


def split_of(schema: Any, base: str, docs: dict[str, Any], compile_fast: Callable[[dict[str, Any]], Any]) -> Split | None:
    """The :class:`Split` of a top-level schema whose base URI is ``base``, or None if its shape does not allow it."""
    if not isinstance(schema, dict) or not set(schema) <= _TOP:
        return None
    if schema.get("$schema", next(iter(_DRAFTS))) not in _DRAFTS or schema.get("type", "object") != "object":
        return None
    required = schema.get("required", [])
    props = schema.get("properties", {})
    if not isinstance(required, list) or not all(type(r) is str for r in required) or not isinstance(props, dict):
        return None
    if not props or not all(type(k) is str and _NAME.match(k) for k in props) or "#" in base:
        return None
    try:
        if '"$id"' in json.dumps(props) or any(d in json.dumps(docs) for d in _DYNAMIC):
            return None
    except (TypeError, ValueError):
        return None
    # The rule's own schema object without ``required`` (checked in Python):
    # every subschema then resolves exactly as in the whole validation.  A
    # ``$ref`` to ``<base>#/properties/k`` would be looked up by URI, and any
    # other schema file (or an embedded resource with a relative ``$id``) that
    # claims ``base`` would answer for it.
    derived = {k: v for k, v in schema.items() if k != "required"}
    derived.setdefault("$id", base)  # (relative references resolve against the rule's own base)
    fast = compile_fast(derived)
    if fast is None:
        return None
    return Split(tuple(dict.fromkeys(required)), frozenset(props), fast)


def valid_by_parts(
    splits: list[Split | None],
    value: Any,
    refs: tuple[tuple[Path, Any], ...],
    shared: SharedNodes | None,
    cache: dict[int, tuple[Any, Any]] | None = None,
) -> bool:
    """Whether every schema of a target (``splits``, one per schema that
    applies) accepts ``value``; False when one cannot be split or its check
    fails or raises (the caller then validates the whole target as before).
    ``refs`` are the target's secret references, each with its placeholder
    (``(path, SecretRef)``: every one in ``value``); ``cache``, kept across
    targets, holds the placed copies of shared subtrees (:class:`Placements`)."""
    if not all(splits):
        return False
    placed: dict[str, dict[Path, Any]] = {}
    for path, ref in refs:
        if not path or type(path[0]) is not str:
            return False  # the whole target is a secret: not split
        placed.setdefault(path[0], {})[path[1:]] = ref.placeholder()
    try:
        placements = Placements(placed, shared, cache) if placed else _NO_SECRETS
        return all(s.is_valid(value, placements, shared) for s in splits if s is not None)
    except Exception:  # noqa: BLE001 - any doubt: the whole target is validated, as before
        return False
