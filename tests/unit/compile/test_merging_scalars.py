"""merge_value and deep_merge set a scalar without a call for it: the same
results and errors as the recursive forms they were (kept here as the reference)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cfgc.base.errors import InputError
from cfgc.base.loading import Document
from cfgc.base.tags import DELETE, Append, Prepend, Replace
from cfgc.compile import merging
from cfgc.compile.merging import MISSING, deep_merge, merge_value


def _reference_merge(base: Any, over: Any, doc: Document, path: tuple[Any, ...]) -> Any:
    # merge_value before the scalar shortcut: every value through the call.
    if type(over) is dict:
        if type(base) is not dict:
            return merging._plain(over, doc, path)
        out = dict(base)
        for k, v in over.items():
            if v is DELETE:
                out.pop(k, None)
                continue
            r = _reference_merge(out.get(k, MISSING), v, doc, (*path, k))
            if r is MISSING:
                out.pop(k, None)
            else:
                out[k] = r
        return out
    if type(over) in (Replace, Append, Prepend) or over is DELETE or type(over) is list:
        return merge_value(base, over, doc, path)  # not a mapping: the same code either way
    return over


def _reference_deep(base: Any, over: Any) -> Any:
    if type(over) is dict and type(base) is dict:
        out = dict(base)
        for k, v in over.items():
            out[k] = _reference_deep(out[k], v) if k in out else v
        return out
    return over


KEYS = st.sampled_from(["a", "b", "c", "d"])
SCALARS = st.one_of(st.integers(-2, 2), st.floats(allow_nan=False), st.text(max_size=3), st.none(), st.booleans())
PLAIN = st.recursive(
    SCALARS, lambda kids: st.one_of(st.dictionaries(KEYS, kids, max_size=4), st.lists(kids, max_size=3)), max_leaves=10
)
TAGGED = st.recursive(
    st.one_of(
        SCALARS,
        st.just(DELETE),
        st.lists(SCALARS, max_size=2).map(lambda x: Append(tuple(x))),
        st.lists(SCALARS, max_size=2).map(lambda x: Prepend(tuple(x))),
        PLAIN.map(Replace),
    ),
    lambda kids: st.one_of(st.dictionaries(KEYS, kids, max_size=4), st.lists(kids, max_size=3)),
    max_leaves=10,
)
DOC = Document("f.yaml", None, {(): (1, 1)})


def _outcome(fn: Any, base: Any, over: Any) -> Any:
    try:
        return "ok", fn(base, over, DOC, ())
    except InputError as e:
        return "error", str(e)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(KEYS, PLAIN, max_size=4), st.dictionaries(KEYS, TAGGED, max_size=4))
def test_merge_value_is_the_recursive_merge(base: dict[str, Any], over: dict[str, Any]) -> None:
    assert _outcome(merge_value, base, over) == _outcome(_reference_merge, base, over)


@settings(max_examples=300, deadline=None)
@given(PLAIN, PLAIN)
def test_deep_merge_is_the_recursive_merge(base: Any, over: Any) -> None:
    assert deep_merge(base, over) == _reference_deep(base, over)
