"""The orjson rendering of a diff writes what Python's encoder writes, byte for byte."""

from __future__ import annotations

import json
import math
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from cfgc.review.report.json_text import exact, indented

_FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e16, 1e15, 1e-5, 1e-4, 1e22, 5e-324, -0.0, 0.1, 123456789012345678.0, 1.5e300]),
)
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=-(2**70), max_value=2**70),
                     _FLOATS, st.text(), st.text(st.characters(max_codepoint=0x7f)),
                     st.text(st.characters(min_codepoint=0xd7ff, max_codepoint=0xe001, exclude_categories=())))
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.tuples(inner, inner),
                            st.dictionaries(st.text(max_size=5), inner, max_size=4),
                            st.dictionaries(st.integers(), inner, max_size=2)),
    max_leaves=20,
)


def python(doc: Any) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n"


@settings(max_examples=600, deadline=None)
@given(_VALUES)
def test_the_fast_text_is_pythons_text(doc: Any) -> None:
    assert indented(doc, exact(doc)) == python(doc)
    assert indented(doc, False) == python(doc)


def test_what_orjson_writes_otherwise_is_not_exact() -> None:
    for v in (1e-5, math.nan, math.inf, {1: "a"}, {"x": [1e-7]}, object()):
        assert not exact(v)
    # orjson 3.8 writes 1e16 where Python writes 1e+16; later versions write Python's text:
    # exact follows what the installed orjson does, whichever it is.
    for f in (1e16, 1e22, 1.5e300):
        assert exact(f) is (orjson.dumps(f).decode() == json.dumps(f))
        assert exact({"x": [f]}) is exact(f)
    for v in ("\x00\x1f\x7f\u2028é\"\\", 2**63, -(2**63), 0.1, -0.0, 1e15, 1e-4, {"a": [None, True, ()]}):
        assert exact(v)


def test_values_orjson_refuses_take_pythons_encoder() -> None:
    for doc in ({"x": 2**70}, {"x": "\ud800"}):
        assert exact(doc)  # exact, but orjson raises: the fallback writes Python's text
        assert indented(doc, True) == python(doc)
