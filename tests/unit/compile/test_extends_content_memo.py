"""The compiler's $extends memo also finds a target's own mapping of scalars by
its content: the answer is always the one resolving without any memo gives."""

from __future__ import annotations

import copy
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cfgc.base.errors import CfgcError
from cfgc.base.shared_nodes import SharedNodes
from cfgc.compile.extends import Memo, resolve_extends, scalar_items
from cfgc.compile.walk import scan, templates_after_extends
from tests.unit.compile.test_walk import _loc

# Values equal under == but not interchangeable in a bundle: the key must keep them apart.
_scalars = st.sampled_from([0, 1, True, False, 1.0, 0.0, -0.0, math.nan, None, "1", "x", "{{ a }}"])
_flat = st.dictionaries(st.sampled_from(["a", "b", "timeout", "model"]), _scalars, max_size=3)
_refs = st.sampled_from(["providers.p", "providers.q", ["providers.p", "providers.q"], "providers.missing", 3])


def _extending(flat: dict[str, Any], ref: Any) -> dict[str, Any]:
    return {"$extends": ref, **flat}


_models = st.dictionaries(st.sampled_from(["primary", "fast", "extra"]), st.builds(_extending, _flat, _refs), max_size=3)


@st.composite
def _targets(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Roots that share the providers object and some model mappings, and hold
    copies (equal content, new objects) of others, as a prefix's targets do."""
    providers = {"p": draw(_flat), "q": draw(_flat)}
    models = draw(_models)
    roots = []
    for _ in range(draw(st.integers(1, 4))):
        own = {}
        for k, m in models.items():
            how = draw(st.sampled_from(["same", "copy", "changed"]))
            if how == "same":
                own[k] = m
            elif how == "copy":
                own[k] = copy.copy(m)
            else:
                own[k] = {**m, **draw(_flat)}
        other = draw(st.booleans())  # a target whose own file replaces a base: another object
        roots.append({"providers": {**providers, "p": dict(providers["p"])} if other else providers, "models": own})
    return roots


def _outcome(root: dict[str, Any], memo: Memo | None) -> tuple[str, Any]:
    try:
        value, origins = resolve_extends(root, _loc, None, memo)
    except CfgcError as e:
        return ("error", (e.message, str(e.location)))
    return ("value", (repr(value), origins))  # repr: 1, 1.0, True, -0.0 and 0.0 all differ


@given(_targets(), st.integers(1, 6))
@settings(max_examples=300, deadline=None)
def test_content_memo_gives_what_each_target_gives_alone(roots: list[dict[str, Any]], size: int) -> None:
    shared = SharedNodes()
    memo = Memo(size, shared=shared, by_content=True)
    for root in roots * 2:
        before = repr(root)
        assert _outcome(root, memo) == _outcome(root, None)
        assert repr(root) == before  # nothing resolved changes its input
    assert len(memo._entries) <= size


@given(_targets())
@settings(max_examples=200, deadline=None)
def test_templates_after_extends_with_shared_results_are_those_a_full_scan_finds(roots: list[dict[str, Any]]) -> None:
    shared = SharedNodes()
    memo = Memo(shared=shared, by_content=True)
    for root in roots * 2:
        found = scan(root, True, shared)
        try:
            value, _ = resolve_extends(root, _loc, found.extends, memo)
        except CfgcError:
            continue
        after = templates_after_extends(value, found.templates, found.extends, shared)
        assert sorted(map(repr, after)) == sorted(map(repr, scan(value).templates))


def test_equal_content_over_the_same_base_is_built_once_and_shared() -> None:
    base = {"url": "u", "timeout_s": 45}
    shared = SharedNodes()
    memo = Memo(shared=shared, by_content=True)
    out = []
    for timeout in (20, 20, 20.0, True):
        root = {"providers": {"openai": base}, "models": {"primary": {"$extends": "providers.openai", "timeout_s": timeout}}}
        out.append(resolve_extends(root, _loc, None, memo)[0]["models"]["primary"])
    assert out[0] is out[1] and shared.entry(out[0]) is not None  # the second target shares the first's result
    assert out[2] is not out[0] and type(out[2]["timeout_s"]) is float  # 20.0 is not 20
    assert out[3]["timeout_s"] is True
    other = {"providers": {"openai": dict(base)}, "models": {"primary": {"$extends": "providers.openai", "timeout_s": 20}}}
    assert resolve_extends(other, _loc, None, memo)[0]["models"]["primary"] is not out[0]  # another base object


def test_only_flat_mappings_with_string_keys_have_a_content_key() -> None:
    assert scalar_items({"a": 1, "b": "x"}) == ("a", int, 1, "b", str, "x")
    assert scalar_items({"a": 1}) != scalar_items({"a": True}) != scalar_items({"a": 1.0})
    assert scalar_items({"a": 0.0}) != scalar_items({"a": -0.0})
    assert scalar_items({"a": {"b": 1}}) is None
    assert scalar_items({"a": [1]}) is None
    assert scalar_items({1: "a"}) is None  # type: ignore[dict-item]
