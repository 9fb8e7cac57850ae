"""canonical_json (orjson where it gives the same bytes) writes exactly what json writes.

``reference_json`` is the definition (docs/bundle-format.md); these tests generate
values of every kind a target can hold, and the kinds orjson treats differently,
and require byte identity, or the same exception when json refuses the value.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cfgc.base import canonical
from cfgc.base.canonical import KNOWN_VALUES, canonical_json, reference_json
from cfgc.base.secretrefs import SecretRef


def test_this_orjson_is_used() -> None:
    assert canonical._FAST is not None  # the import-time check passed: it writes json's bytes


# Every character, lone surrogates and controls included.
_chars = st.characters(codec=None, categories=None)
_text = st.text(_chars, max_size=12) | st.sampled_from(["", "\x00", "\x7f", "\u2028", "\ud800", "\U0001f600", "é"])
# Floats at the edges where decimal formatting changes, and every other float.
_edges = [0.0, -0.0, 1e-4, 1e-5, 9.999999999999999e-05, 1e15, 1e16, 9999999999999998.0, 1e16 + 2, 1e21,
          1e22, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, math.nan, math.inf, -math.inf]
_floats = st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True) | st.sampled_from(_edges) | st.builds(
    lambda m, e: m * 10.0**e, st.integers(-(10**17), 10**17), st.integers(-30, 30)
)
_ints = st.integers() | st.sampled_from([2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64 - 1, 2**64, 10**40])
_secrets = st.builds(SecretRef, _text, st.lists(_text | st.integers(0, 5), max_size=3).map(tuple), _text)
_leaves = st.none() | st.booleans() | _ints | _floats | _text | _secrets
_values = st.recursive(
    _leaves,
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(_text, inner, max_size=6) | st.tuples(inner, inner),
    max_leaves=40,
)


def _outcome(encode: Any, value: Any) -> bytes | type:
    try:
        return bytes(encode(value))
    except Exception as e:  # noqa: BLE001 - the exception type is the outcome compared
        return type(e)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_values)
def test_same_bytes_or_same_error_as_json(value: Any) -> None:
    assert _outcome(canonical_json, value) == _outcome(reference_json, value)


@settings(max_examples=200, deadline=None)
@given(st.lists(_floats, min_size=1, max_size=50))
def test_floats_alone(values: list[float]) -> None:
    assert _outcome(canonical_json, {"v": values}) == _outcome(reference_json, {"v": values})


def test_the_fast_path_is_taken_for_ordinary_values() -> None:
    # Otherwise the identity above would hold trivially.
    for value in [*KNOWN_VALUES, {"a": None, "b": [1, 2.5, "x"]}, {"$secret": SecretRef("f", ("a",), "str")}]:
        assert canonical._fast(canonical._FAST, value) == reference_json(value), value


@pytest.mark.parametrize("depth", [250, 256, 300, 900])
def test_deep_nesting(depth: int) -> None:
    value: Any = 1
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    assert _outcome(canonical_json, value) == _outcome(reference_json, value)


def test_nan_and_infinity_are_refused_even_beside_a_null() -> None:
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError):
            canonical_json({"a": None, "b": [bad]})


def test_types_json_refuses_stay_refused() -> None:
    @dataclasses.dataclass
    class D:
        x: int

    for value in (D(1), datetime.date(2024, 1, 2), datetime.datetime(2024, 1, 2), {"s": {1, 2}}, {1: 1, "a": 2}):
        assert _outcome(canonical_json, value) == _outcome(reference_json, value)
        assert isinstance(_outcome(canonical_json, value), type)
    assert canonical_json({1: "int key", 2.5: 2}) == reference_json({1: "int key", 2.5: 2})


def test_subclasses_of_json_types() -> None:
    class S(str):
        pass

    class I(int):  # noqa: E742 - the name is the point
        pass

    class F(float):
        pass

    class Dct(dict):  # type: ignore[type-arg]
        pass

    value = Dct({S("b"): [I(3), F(0.5), S("x")], "a": True})
    assert canonical_json(value) == reference_json(value)
