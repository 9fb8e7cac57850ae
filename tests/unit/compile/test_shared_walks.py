"""Walks that reuse the results of registered shared subtrees give what a full walk gives, order included."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cfgc.base.errors import Location
from cfgc.base.secretrefs import SecretRef, secret_refs
from cfgc.base.shared_nodes import SharedNodes
from cfgc.base.tags import PromptRef
from cfgc.compile.walk import scan, templates_after_extends

_keys = st.sampled_from(["a", "b", "c", "$extends"])
_leaf = st.one_of(
    st.integers(0, 3),
    st.sampled_from(["x", "{{ a }}", "t {% if 1 %}y{% endif %}", "{{x"]),
    st.builds(SecretRef, st.just("s.enc.yaml"), st.just(("k",)), st.sampled_from(["str", "int"])),
    st.builds(PromptRef, st.just("p"), st.just("^1.0"), st.just(Location("f.yaml", 1, 1))),
)
_values = st.recursive(
    _leaf, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3), max_leaves=30
)


def _shared_nodes(value: Any) -> list[Any]:
    out, stack = [], [value]
    while stack:
        v = stack.pop()
        if type(v) is dict or type(v) is list:
            out.append(v)
            stack.extend(v.values() if type(v) is dict else v)
    return out


@st.composite
def _targets(draw: st.DrawFn) -> tuple[Any, list[Any]]:
    """A shared value and targets built from its subtrees (by identity) and new values."""
    base = draw(st.dictionaries(_keys, _values, min_size=1, max_size=4))
    nodes = _shared_nodes(base)
    pieces = st.one_of(_values, st.sampled_from(nodes))
    targets = [
        draw(st.dictionaries(_keys, st.one_of(pieces, st.lists(pieces, max_size=2)), max_size=4)) for _ in range(3)
    ]
    return base, [*targets, base]


def _found(f: Any) -> tuple[Any, ...]:
    return f.prompts, f.extends, f.templates


@settings(max_examples=300, deadline=None)
@given(_targets(), st.integers(1, 40))
def test_shared_walks_equal_full_walks(case: tuple[Any, list[Any]], limit: int) -> None:
    base, targets = case
    shared = SharedNodes(limit)  # a small limit registers part of the value only
    shared.add(base)
    for value in targets:
        for tmpl in (True, False):
            assert _found(scan(value, tmpl, shared)) == _found(scan(value, tmpl))
        assert secret_refs(value, (), shared) == secret_refs(value)
        ext = scan(value).extends
        before = scan(value).templates
        assert templates_after_extends(value, before, ext, shared) == templates_after_extends(value, before, ext)


def test_a_registered_subtree_is_walked_once() -> None:
    inner = {"x": "{{ a }}", "s": SecretRef("s.enc.yaml", ("k",), "str")}
    shared = SharedNodes()
    shared.add({"shared": inner})
    entry = shared.entry(inner)
    assert entry is not None
    scan({"t1": inner}, True, shared)
    secret_refs({"t1": inner}, (), shared)
    kept = entry[1], entry[2]
    found = scan({"t2": inner, "own": {"y": "{{ b }}"}}, True, shared)
    assert found.templates == [("t2", "x"), ("own", "y")]
    assert secret_refs({"t2": [inner]}, (), shared) == [(("t2", 0, "s"), inner["s"])]
    assert (entry[1], entry[2]) == kept  # reused, not recomputed
    assert shared.entry(dict(inner)) is None  # an equal object is not the registered one


def test_registration_is_bounded() -> None:
    shared = SharedNodes(limit=5)
    shared.add({str(i): {"k": [i]} for i in range(10)})
    assert len(shared) == 5
