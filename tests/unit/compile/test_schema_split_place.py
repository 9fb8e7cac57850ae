"""Placements (secret placeholders per top-level key, shared subtrees' copies
kept across targets) give what replace_at gives."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cfgc.base.secretrefs import SecretRef, secret_refs
from cfgc.base.shared_nodes import SharedNodes
from cfgc.compile.schema_split import MAX_PLACED, Placements
from cfgc.compile.walk import replace_at
from tests.unit.compile.test_shared_walks import _shared_nodes

_keys = st.sampled_from(["a", "b", "c"])
_ref = st.builds(SecretRef, st.just("s.enc.yaml"), st.tuples(_keys), st.sampled_from(["str", "int", "bool"]))
_values = st.recursive(
    st.one_of(st.integers(0, 3), st.just("x"), _ref),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3),
    max_leaves=20,
)


@st.composite
def _targets(draw: st.DrawFn) -> tuple[Any, list[Any]]:
    """A shared value and targets whose top-level subtrees mix its nodes (by identity) with new values."""
    base = draw(st.dictionaries(_keys, _values, min_size=1, max_size=3))
    pieces = st.one_of(_values, st.sampled_from(_shared_nodes(base)))
    sub = st.one_of(pieces, st.lists(pieces, max_size=3), st.dictionaries(_keys, pieces, max_size=3))
    return base, [draw(st.dictionaries(_keys, sub, max_size=3)) for _ in range(3)]


def _by_key(value: dict[str, Any]) -> dict[str, dict[Any, Any]]:
    out: dict[str, dict[Any, Any]] = {}
    for path, ref in secret_refs(value):
        out.setdefault(path[0], {})[path[1:]] = ref.placeholder()
    return out


@settings(max_examples=300, deadline=None)
@given(_targets(), st.booleans())
def test_placed_subtrees_equal_replace_at(case: tuple[Any, list[Any]], with_shared: bool) -> None:
    base, targets = case
    shared = SharedNodes()
    shared.add(base)
    cache: dict[int, tuple[Any, Any]] = {}
    for value in targets:
        paths = _by_key(value)
        placed = Placements(paths, shared if with_shared else None, cache)
        for k, sub in value.items():
            want = replace_at(sub, paths[k]) if k in paths else sub
            got = placed.subtree(k, sub)
            assert got == want
            assert placed.subtree(k, sub) is got  # once per target for all of its schemas
            assert secret_refs(got) == []
            if k not in paths:
                assert got is sub


def test_a_shared_childs_placed_copy_is_kept_across_targets() -> None:
    model = {"api_key": SecretRef("s.enc.yaml", ("k",), "str"), "id": 1}
    shared = SharedNodes()
    shared.add({"m": model})
    cache: dict[int, tuple[Any, Any]] = {}
    first = Placements({"models": {("a", "api_key"): "<secret>"}}, shared, cache).subtree("models", {"a": model, "n": 2})
    second = Placements({"models": {("b", "api_key"): "<secret>"}}, shared, cache).subtree("models", {"b": model})
    assert first == {"a": {"api_key": "<secret>", "id": 1}, "n": 2}
    assert second["b"] is first["a"]  # the shared model's placed copy, made once
    assert model == {"api_key": SecretRef("s.enc.yaml", ("k",), "str"), "id": 1}  # the shared value is never changed


def test_the_kept_copies_are_bounded_the_oldest_dropped_first() -> None:
    models = [{"api_key": SecretRef("s.enc.yaml", ("k",), "str"), "id": i} for i in range(MAX_PLACED + 3)]
    shared = SharedNodes()
    shared.add({"m": models})
    cache: dict[int, tuple[Any, Any]] = {}
    for m in models:
        Placements({"models": {("a", "api_key"): "<secret>"}}, shared, cache).subtree("models", {"a": m})
    assert len(cache) == MAX_PLACED
    assert id(models[0]) not in cache and cache[id(models[-1])][0] is models[-1]
