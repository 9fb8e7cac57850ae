"""The compiler's shortcuts over whole-target walks, held to the walks they replace."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cfgc.base.errors import CfgcError, Location
from cfgc.base.secretrefs import SecretRef, secret_refs, with_placeholders
from cfgc.compile.extends import resolve_extends
from cfgc.compile.walk import replace_at, scan, templates_after_extends


def _loc(path: tuple[Any, ...]) -> Location:
    return Location("f.yaml", 1, 1)


# Few key names, so $extends references often hit an existing mapping (and
# chains, nesting and cycles all come up); strings are often templates.
_keys = st.sampled_from(["a", "b", "c", "d"])
_refs = st.sampled_from(["a", "b", "a.b", "b.c"])
_leaf = st.one_of(
    st.integers(0, 3),
    st.sampled_from(["x", "{{ a }}", "t {% if 1 %}y{% endif %}", "{{x"]),
    st.builds(SecretRef, st.just("s.enc.yaml"), st.just(("k",)), st.sampled_from(["str", "int"])),
)


def _mapping(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    plain = st.dictionaries(_keys, inner, max_size=3)
    extending = st.builds(
        lambda d, ref: {**d, "$extends": ref}, plain, st.one_of(_refs, st.lists(_refs, min_size=1, max_size=2))
    )
    return st.one_of(plain, extending)


_values = st.recursive(_leaf, lambda inner: st.lists(inner, max_size=2) | _mapping(inner), max_leaves=25)
_plain_values = st.recursive(_leaf, lambda inner: st.lists(inner, max_size=2) | st.dictionaries(_keys, inner, max_size=3),
                             max_leaves=8)
# "a" and "b" are mappings most $extends can reach (chains through them, and
# mappings that extend inside mappings that extend, come up often).
_roots = st.builds(
    lambda a, b, rest: {"a": a, "b": b, **rest},
    st.dictionaries(_keys, _plain_values, max_size=3),
    _mapping(_plain_values),
    st.dictionaries(st.sampled_from(["c", "d"]), _values, min_size=1, max_size=2),
)


@given(_roots)
@settings(max_examples=400, deadline=None)
def test_templates_after_extends_are_those_a_full_scan_finds(root: dict[str, Any]) -> None:
    found = scan(root)
    try:
        resolved, _ = resolve_extends(root, _loc, found.extends)
    except CfgcError:
        return  # a refused $extends stops the compile before templates
    quick = templates_after_extends(resolved, found.templates, found.extends)
    assert sorted(map(repr, quick)) == sorted(map(repr, scan(resolved).templates))
    assert len(set(quick)) == len(quick)


def test_templates_copied_by_extends_are_found() -> None:
    root = {"base": {"url": "{{ x }}"}, "m": {"$extends": "base", "own": "{{ y }}"}, "n": {"k": "{{ z }}"}}
    found = scan(root)
    resolved, _ = resolve_extends(root, _loc, found.extends)
    got = set(templates_after_extends(resolved, found.templates, found.extends))
    assert got == {("base", "url"), ("m", "url"), ("m", "own"), ("n", "k")}


@given(_roots)
@settings(max_examples=400, deadline=None)
def test_placeholders_at_the_reference_paths_equal_the_full_walk(root: dict[str, Any]) -> None:
    refs = secret_refs(root)
    placed = replace_at(root, {p: ref.placeholder() for p, ref in refs})
    assert placed == with_placeholders(root)
    assert secret_refs(placed) == []


def _replace_at_reference(root: Any, values: dict[tuple[Any, ...], Any]) -> Any:
    """The walk replace_at replaced: a call per child of every copied node."""
    dirty = {p[:i] for p in values for i in range(len(p) + 1)}

    def rebuild(path: tuple[Any, ...], node: Any) -> Any:
        if path in values:
            return values[path]
        if path not in dirty:
            return node
        if type(node) is dict:
            return {k: rebuild((*path, k), v) for k, v in node.items()}
        return [rebuild((*path, i), v) for i, v in enumerate(node)]

    return rebuild((), root)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    items = value.items() if type(value) is dict else enumerate(value) if type(value) is list else ()
    for k, v in items:
        out += _paths(v, (*path, k))
    return out


@given(_roots, st.data())
@settings(max_examples=400, deadline=None)
def test_replace_at_equals_the_call_per_child_walk(root: dict[str, Any], data: st.DataObject) -> None:
    chosen = data.draw(st.lists(st.sampled_from(_paths(root)), max_size=4))
    values = {p: ("new", i) for i, p in enumerate(chosen)}
    before = repr(root)
    got = replace_at(root, values)
    want = _replace_at_reference(root, values)
    assert got == want and repr(got) == repr(want)  # the same keys in the same order
    assert repr(root) == before  # copy on write: the input is never changed
    for k, v in root.items():  # untouched subtrees are shared, not copied
        if not any(p[:1] == (k,) for p in values) and () not in values:
            assert got[k] is v


def _split_reference(before: tuple[Any, ...], extends: tuple[Any, ...]) -> tuple[list[Any], tuple[Any, ...]]:
    # The pairwise version the set lookup replaced (quadratic in the number of paths).
    roots: list[Any] = []
    for e in sorted(set(extends), key=len):
        if not any(e[: len(r)] == r for r in roots):
            roots.append(e)
    return roots, tuple(p for p in before if not any(p[: len(r)] == r for r in roots))


_path_lists = st.lists(st.lists(st.sampled_from(["a", "b", "c", 0, 1]), max_size=4).map(tuple), max_size=12)


@settings(max_examples=400, deadline=None)
@given(_path_lists, _path_lists)
def test_splitting_paths_by_set_lookup_equals_the_pairwise_split(before: list[Any], extends: list[Any]) -> None:
    from cfgc.compile.walk import _split_paths

    roots, outside = _split_paths((tuple(before), tuple(extends)))
    want_roots, want_outside = _split_reference(tuple(before), tuple(extends))
    assert sorted(roots, key=repr) == sorted(want_roots, key=repr)
    assert outside == want_outside
