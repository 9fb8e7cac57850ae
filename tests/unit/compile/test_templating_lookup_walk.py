"""The lookup of ``{{ config.a.b }}`` down plain mappings gives what the walk
through a view per level gives: the same value, view, rendered template or error."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cfgc.base.errors import InputError, Location
from cfgc.base.limits import DEFAULT_LIMITS
from cfgc.compile import templating

KEYS = st.sampled_from(["a", "b", "org", "items", "keys", "_raw", "_p", "get", "region", "x"])
LEAVES = st.one_of(
    st.integers(-3, 3),
    st.none(),
    st.booleans(),
    st.sampled_from(["plain", "{{ config.a }}", "{{ service }}-x", "{{ nope }}", "{{ config.b.a }}"]),
)
VALUES = st.recursive(
    LEAVES,
    lambda kids: st.one_of(st.dictionaries(KEYS, kids, max_size=4), st.lists(kids, max_size=3)),
    max_leaves=12,
)


def loc(path: Any) -> Location:
    return Location("t.yaml", 1, 1)


def _outcome(root: Any, name: tuple[str, ...], walk: str) -> Any:
    r = templating._Renderer(root, {"service": "chat"}, "acme/prod/chat", loc, DEFAULT_LIMITS, None)
    try:
        if walk == "fast":
            got = r._lookup(name)
        else:
            got = r._lookup_views(r.context.get(name[0], templating._NO), name)
    except InputError as e:
        return "error", str(e)
    if got is templating._NO:
        return "no", None
    if isinstance(got, (templating._MappingView, templating._ListView)):
        return "view", type(got), got._p, id(got._raw)
    return "value", type(got), got, sorted(r.done.items(), key=repr)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(KEYS, VALUES, max_size=5),
    st.lists(KEYS, min_size=0, max_size=4),
    st.sampled_from(["config", "service", "target", "nope"]),
)
def test_the_walk_down_mappings_is_the_walk_through_views(root: dict[str, Any], keys: list[str], first: str) -> None:
    name = (first, *keys)
    assert _outcome(root, name, "fast") == _outcome(root, name, "views")


def test_a_template_part_way_is_rendered_as_before() -> None:
    root = {"a": "{{ config.b }}", "b": {"c": 1}}
    for name in [("config", "a", "c"), ("config", "b", "c"), ("config", "b", "items")]:
        assert _outcome(root, name, "fast") == _outcome(root, name, "views")
