"""Rebuilt containers found again by content never change a value (cfgc/base/interning.py)."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cfgc.base.errors import CfgcError
from cfgc.base.interning import MAX_ITEMS, Interner
from cfgc.base.shared_nodes import SharedNodes
from cfgc.compile.extends import Memo, resolve_extends
from cfgc.compile.templating import render_target
from tests.unit.compile.test_walk import _loc

# Equal under == but not interchangeable: 1, 1.0, True; 0.0, -0.0; "1".
_scalars = st.sampled_from([0, 1, True, False, 1.0, 0.0, -0.0, math.nan, None, "1", "x"])
_flat = st.dictionaries(st.sampled_from(["a", "b", "c"]), _scalars, max_size=3)


@given(st.lists(st.one_of(_flat, st.lists(_scalars, max_size=3)), min_size=1, max_size=8))
@settings(max_examples=300, deadline=None)
def test_an_interned_container_is_the_one_given_or_one_of_the_same_content_and_types(values: list[Any]) -> None:
    shared = SharedNodes()
    interner = Interner(shared, size=3)
    for v in values + values:
        before = repr(v)
        got = interner.intern(v)
        assert repr(got) == before and type(got) is type(v)
        assert [type(x) for x in (got.values() if type(got) is dict else got)] == [
            type(x) for x in (v.values() if type(v) is dict else v)
        ]
        if got is not v:
            assert shared.entry(got) is not None  # found again: registered as shared
    assert len(interner._entries) <= 3


def test_containers_holding_unshared_containers_or_too_many_items_are_not_interned() -> None:
    shared = SharedNodes()
    interner = Interner(shared)
    inner = {"x": 1}
    assert interner.key({"a": inner}) is None  # a container no one shares
    shared.add(inner)
    assert interner.key({"a": inner}) is not None
    assert interner.key({"a": {"x": 1}}) is None  # equal, but another object
    assert interner.key(dict.fromkeys(map(str, range(MAX_ITEMS + 1)), 1)) is None
    assert interner.key({1: "a"}) != interner.key({"1": "a"})
    assert interner.key({"a": 1}) != interner.key({"a": True}) != interner.key({"a": 1.0})
    assert interner.key([0.0]) != interner.key([-0.0])


_tmpl_leaf = st.sampled_from([1, 1.0, True, "x", "{{ config.a.b }}", "{{ config.c }}", "{{ target }}", "{{ nope }}", "h{{ 1 }}"])
_tmpl_values = st.recursive(
    _tmpl_leaf, lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3),
    max_leaves=12,
)


def _render(root: Any, interner: Interner | None) -> tuple[str, Any]:
    try:
        return ("value", repr(render_target(root, {}, "t", _loc, None, interner=interner)))
    except CfgcError as e:
        return ("error", (e.message, str(e.location)))


@given(st.dictionaries(st.sampled_from(["a", "b", "c"]), _tmpl_values, min_size=1, max_size=3), st.data())
@settings(max_examples=200, deadline=None)
def test_rendering_with_an_interner_gives_what_rendering_without_gives(base: dict[str, Any], data: st.DataObject) -> None:
    shared = SharedNodes()
    shared.add(base)
    interner = Interner(shared)
    # Targets built from the shared value's subtrees and values of their own, as a prefix's targets are.
    roots = [base]
    for _i in range(3):
        roots.append({k: base[k] if data.draw(st.booleans()) else data.draw(_tmpl_values) for k in base})
    before = [repr(r) for r in roots]
    for root in roots + roots:
        assert _render(root, interner) == _render(root, None)
    assert [repr(r) for r in roots] == before  # nothing rendered changes its input


def test_extends_rebuilt_parents_are_shared_between_targets_with_the_same_children() -> None:
    shared = SharedNodes()
    memo = Memo(shared=shared, by_content=True, interner=Interner(shared))
    base = {"url": "u"}
    out = []
    for _ in range(3):
        root = {"providers": {"p": base}, "models": {"m": {"$extends": "providers.p", "t": 1}, "n": {"$extends": "providers.p"}}}
        value, _origins = resolve_extends(root, _loc, None, memo)
        assert value == {"providers": {"p": base}, "models": {"m": {"url": "u", "t": 1}, "n": {"url": "u"}}}
        out.append(value["models"])
    assert out[1] is out[2] and shared.entry(out[2]) is not None
