"""refs_after (the references after the late stages, from the scan before them)
gives what a full walk of the result gives, order included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cfgc.base.errors import CfgcError
from cfgc.base.secretrefs import SecretRef, secret_refs
from cfgc.base.shared_nodes import SharedNodes
from cfgc.compile.compiler import Compiler
from cfgc.compile.extends import Memo, resolve_extends
from cfgc.compile.late_refs import refs_after
from cfgc.compile.template_memo import RenderMemo
from cfgc.compile.templating import render_target
from cfgc.compile.walk import scan, templates_after_extends
from cfgc.repo.sources import DirSource
from tests.unit.compile.test_walk import _loc

_keys = st.sampled_from(["a", "b", "c", "d"])
_ref = st.builds(SecretRef, st.just("s.enc.yaml"), st.tuples(_keys), st.sampled_from(["str", "int"]))
# Templates that render to a scalar, to a secret (a whole-value template) and to a mapping.
_templates = st.sampled_from(["{{ 1 + 1 }}", "x {{ 2 }}", "{{ config.s }}", "{{ config.m }}"])
_leaf = st.one_of(st.integers(0, 3), st.just("x"), _ref, _templates)
_extends = st.sampled_from(["m", "n", "a.b", ["m", "n"], "a"])


def _mapping(inner: Any) -> Any:
    plain = st.dictionaries(_keys, inner, max_size=3)
    extending = st.builds(lambda d, e: {**d, "$extends": e}, plain, _extends)
    return plain | extending


_values = st.recursive(_leaf, lambda inner: st.lists(inner, max_size=2) | _mapping(inner), max_leaves=20)


@st.composite
def _roots(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """A shared part (the bases and a secret) and a target merged over it."""
    shared = {
        "s": draw(_ref),
        "m": draw(st.dictionaries(_keys, st.one_of(st.integers(0, 3), _ref), max_size=3)),
        "n": draw(st.dictionaries(_keys, _values, max_size=2)),
    }
    own = draw(st.dictionaries(_keys, _values, max_size=4))
    if draw(st.booleans()) and draw(st.booleans()):
        own["$extends"] = draw(st.sampled_from(["m", "n"]))  # the root itself extends: walked whole
    return shared, {**shared, **own}


def _late(value: Any, shared: SharedNodes, memo: Memo) -> tuple[Any, Any]:
    found = scan(value, True, shared)
    if found.extends:
        value, _ = resolve_extends(value, _loc, found.extends, memo)
        found.templates = templates_after_extends(value, found.templates, found.extends, shared)
    if found.templates:
        value = render_target(value, {}, "t", _loc, found.templates, memo=RenderMemo())
    return value, found


@settings(max_examples=400, deadline=None)
@given(st.lists(_roots(), min_size=1, max_size=3), st.integers(1, 40))
def test_references_after_the_late_stages_are_those_of_a_full_walk(cases: list[Any], limit: int) -> None:
    shared = SharedNodes(limit)  # a small limit registers part of the shared value only
    memo = Memo(shared=shared, by_content=True)
    for base, value in cases:
        shared.add(base)
        try:
            out, found = _late(value, shared, memo)
        except (CfgcError, TypeError):
            continue  # a bad $extends or template: the compile stops there, no references are taken
        assert refs_after(out, found, shared) == secret_refs(out)
        assert refs_after(out, found) == secret_refs(out)


def test_an_extended_mapping_takes_its_bases_references_in_place() -> None:
    key = SecretRef("s.enc.yaml", ("k",), "str")
    hook = SecretRef("s.enc.yaml", ("h",), "str")
    base = {"key": key, "url": "https://x"}
    value = {"first": hook, "models": {"a": {"$extends": "providers.p", "id": 1}, "b": 2}, "providers": {"p": base}, "last": hook}
    shared = SharedNodes()
    out, found = _late(value, shared, Memo(shared=shared))
    assert found.extends_at == [1]  # one reference ("first") comes before models.a
    want = [(("first",), hook), (("models", "a", "key"), key), (("providers", "p", "key"), key), (("last",), hook)]
    assert refs_after(out, found, shared) == secret_refs(out) == want


def test_a_template_of_a_secret_is_walked_whole() -> None:
    key = SecretRef("s.enc.yaml", ("k",), "str")
    value = {"a": "{{ config.s }}", "s": key}
    out, found = _late(value, SharedNodes(), Memo())
    assert found.refs == [(("s",), key)]  # before rendering, "a" held only a template
    assert refs_after(out, found) == secret_refs(out) == [(("a",), key), (("s",), key)]


def test_the_example_repos_targets_carry_the_references_a_full_walk_finds() -> None:
    comp = Compiler(DirSource(str(Path(__file__).parents[3] / "examples" / "repo")))
    checked = 0
    for spec in comp.specs():
        target = comp.compile(spec)
        assert list(target.refs) == secret_refs(target.value), spec.name
        checked += bool(target.refs)
    assert checked  # the example's secrets reach targets through $extends and templates
