"""``canonical_json(value, plain_floats=True)`` skips the search for floats
orjson writes differently; these tests hold it to ``reference_json`` on
generated values whose floats are plain, and hold the fast YAML path's
``plain_floats`` answer to a walk of the value it built.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cfgc.base import yaml_fast
from cfgc.base.canonical import canonical_json, plain_float, reference_json
from cfgc.base.loading import MAX_DEPTH, load_yaml

# Every float, by its bits, then only those plain_float admits.
_any_float = st.integers(0, 2**64 - 1).map(lambda b: struct.unpack("<d", struct.pack("<Q", b))[0])
_near_edges = st.sampled_from([1e-4, -1e-4, 1e16, -1e16, 1e15, 0.0, -0.0, 9999999999999998.0]).flatmap(
    lambda e: st.integers(-40, 40).map(lambda k: _step(e, k))
)
_decimal = st.builds(lambda m, e: float(f"{m}e{e}"), st.integers(-(10**17), 10**17), st.integers(-22, 22))
_plain_floats = (_any_float | _near_edges | _decimal | st.floats()).filter(plain_float)
_text = st.text(max_size=12) | st.sampled_from(["1e16", "0.00001", "null", "x1e-07", "\u2028", "é"])
_leaves = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | _plain_floats | _text
_values = st.recursive(
    _leaves, lambda inner: st.lists(inner, max_size=6) | st.dictionaries(_text, inner, max_size=6), max_leaves=40
)


def _step(x: float, k: int) -> float:
    for _ in range(abs(k)):
        x = math.nextafter(x, math.inf if k > 0 else -math.inf)
    return x


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_values)
def test_plain_floats_give_json_bytes(value: Any) -> None:
    assert canonical_json(value, plain_floats=True) == reference_json(value)


@settings(max_examples=300, deadline=None)
@given(st.lists(_any_float | _near_edges | _decimal, min_size=1, max_size=40))
def test_plain_float_is_exactly_where_the_encoders_agree_or_narrower(values: list[float]) -> None:
    for x in values:
        if plain_float(x):
            assert canonical_json(x, plain_floats=True) == json.dumps(x).encode()


def test_edges_of_plain_float() -> None:
    assert plain_float(0.0) and plain_float(-0.0) and plain_float(1e-4) and plain_float(-1e-4)
    assert plain_float(math.nextafter(1e16, 0.0)) and not plain_float(1e16) and not plain_float(-1e16)
    assert not plain_float(math.nextafter(1e-4, 0.0)) and not plain_float(5e-324)
    assert not plain_float(math.nan) and not plain_float(math.inf) and not plain_float(-math.inf)


def test_what_orjson_refuses_still_goes_to_json() -> None:
    # The caller's word covers floats only: an integer beyond 64 bits or a
    # non-string key is still json's to write (or refuse).
    assert canonical_json({"a": 2**70}, plain_floats=True) == reference_json({"a": 2**70})
    assert canonical_json({1: "x"}, plain_floats=True) == reference_json({1: "x"})


def _floats_in(v: Any) -> list[float]:
    if type(v) is float:
        return [v]
    if type(v) is dict:
        return [f for x in v.values() for f in _floats_in(x)]
    if type(v) is list:
        return [f for x in v for f in _floats_in(x)]
    return []


_yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False)
    | _decimal | st.text(max_size=8),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(min_size=1, max_size=6), kids, max_size=4),
    max_leaves=20,
).map(lambda v: {"k": v})


@pytest.mark.skipif(not yaml_fast.AVAILABLE, reason="yaml-rs is not installed")
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_yaml_values, st.booleans())
def test_the_fast_path_says_plain_floats_only_when_every_float_is_plain(value: Any, flow: bool) -> None:
    text = yaml.safe_dump(value, default_flow_style=flow, allow_unicode=True)
    raw = text.encode("utf-8", "surrogatepass")
    doc = load_yaml(raw, "f.yaml", reload=lambda: raw)
    floats = _floats_in(doc.data)
    got, plain, _ = yaml_fast.fast_load(text, MAX_DEPTH)
    if got is yaml_fast.MISS:
        assert not doc.plain_floats
        return
    assert doc.plain_floats == plain == all(plain_float(f) for f in floats)
    if plain:
        assert canonical_json(doc.data, plain_floats=True) == reference_json(doc.data)


def test_a_file_with_an_exponent_float_is_not_plain() -> None:
    for text, plain in [("a: 0.7\nb: [1, 2.5]\n", True), ("a: 1e16\n", False), ("a: {b: 0.00001}\n", False)]:
        raw = text.encode()
        assert load_yaml(raw, "f.yaml", reload=lambda raw=raw: raw).plain_floats is plain
        assert load_yaml(raw, "f.yaml").plain_floats is False  # the careful path never says so
