"""$extends resolutions shared between targets: the memo never changes an answer."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cfgc.base.errors import CfgcError
from cfgc.compile.extends import Memo, resolve_extends
from tests.unit.compile.test_walk import _loc, _roots


def outcome(root: dict[str, Any], memo: Memo | None) -> tuple[str, Any]:
    try:
        value, origins = resolve_extends(root, _loc, None, memo)
    except CfgcError as e:
        return ("error", (e.message, str(e.location)))
    return ("value", (repr(value), origins))


@given(st.lists(_roots, min_size=1, max_size=4), st.data(), st.integers(1, 4))
@settings(max_examples=300, deadline=None)
def test_a_memo_across_targets_gives_what_each_target_gives_alone(
    roots: list[dict[str, Any]], data: st.DataObject, size: int
) -> None:
    # Targets share subtrees as layers do: each later root takes some of its
    # top-level values from the first, as the very same objects.
    shared = []
    for r in roots:
        take = data.draw(st.sets(st.sampled_from(sorted(roots[0]))))
        shared.append({**r, **{k: roots[0][k] for k in take}})
    memo = Memo(size)
    for r in shared * 2:
        before = repr(r)
        assert outcome(r, memo) == outcome(r, None)
        assert repr(r) == before  # nothing resolved changes its input
    assert len(memo._entries) <= size


def test_targets_that_share_a_mapping_and_its_base_share_the_resolution() -> None:
    base = {"url": "u", "timeout": 1}
    fast = {"$extends": "providers.openai", "model": "m"}
    one = {"providers": {"openai": base}, "models": {"fast": fast, "own": {"$extends": "providers.openai"}}}
    two = {"providers": {"openai": base}, "models": {"fast": fast, "own": {"$extends": "providers.openai"}}}
    memo = Memo()
    a, _ = resolve_extends(one, _loc, None, memo)
    b, _ = resolve_extends(two, _loc, None, memo)
    assert a == b and a["models"]["fast"] == {"url": "u", "timeout": 1, "model": "m"}
    assert a["models"]["fast"] is b["models"]["fast"]  # built once
    assert a["models"]["own"] is not b["models"]["own"]  # different objects: not shared
    three = {"providers": {"openai": {**base, "timeout": 2}}, "models": {"fast": fast}}
    c, _ = resolve_extends(three, _loc, None, memo)
    assert c["models"]["fast"]["timeout"] == 2  # another base object: resolved again


def test_a_mapping_whose_children_extend_is_resolved_for_each_target() -> None:
    # The outer mapping and its base are shared; the base its child extends is not.
    outer = {"$extends": "a", "child": {"$extends": "b"}}
    a = {"x": 1}
    memo = Memo()
    one, _ = resolve_extends({"a": a, "b": {"y": 1}, "m": outer}, _loc, None, memo)
    two, _ = resolve_extends({"a": a, "b": {"y": 2}, "m": outer}, _loc, None, memo)
    assert one["m"] == {"x": 1, "child": {"y": 1}}
    assert two["m"] == {"x": 1, "child": {"y": 2}}
