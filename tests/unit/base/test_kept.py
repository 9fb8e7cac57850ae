"""cfgc.base.kept: values kept by their file's digest, exactly as JSON gives them back, within bounds."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cfgc.base import kept
from cfgc.base.kept import MAX_ENTRIES, MAX_KEPT_BYTES, Kept, digest, distinct, plain
from cfgc.base.loading import CAREFUL, load_yaml

_JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=3) | st.integers(), kids, max_size=3),
    max_leaves=10,
)


@given(_JSONISH)
def test_a_value_comes_back_equal_with_the_same_types_or_is_not_kept(value: object) -> None:
    k = Kept()
    k.put(b"x", value)
    got = k.get(b"x")
    if plain(value):
        assert repr(got) == repr(value)  # repr tells 1 from 1.0 from True, and -0.0 from 0.0
    else:
        assert got is None


@pytest.mark.parametrize("value", [
    {1: "int key"}, {"d": dt.date(2024, 1, 1)}, [float("nan")], (1, 2), {"big": 1 << 64}, b"bytes",
])
def test_values_json_would_change_are_refused(value: object) -> None:
    assert not plain(value)


def test_each_get_is_a_fresh_copy_and_other_bytes_miss() -> None:
    k = Kept()
    k.put(b"a: 1\n", {"a": [1]})
    first = k.get(b"a: 1\n")
    first["a"].append(2)
    assert k.get(b"a: 1\n") == {"a": [1]}
    assert k.get(b"a: 2\n") is None


def test_bounds_on_size_and_entries() -> None:
    k = Kept()
    k.put(b"x" * (MAX_KEPT_BYTES + 1), 1)
    k.put(b"y", "v" * (MAX_KEPT_BYTES + 1))
    assert k.kept(lambda d: True) == {}
    for i in range(MAX_ENTRIES + 5):
        k.put(str(i).encode(), i)
    assert len(k.kept(lambda d: True)) == MAX_ENTRIES
    assert k.get(b"0") is None and k.get(str(MAX_ENTRIES + 4).encode()) == MAX_ENTRIES + 4  # oldest out first
    full = Kept(evict=False)
    for i in range(MAX_ENTRIES + 5):
        full.put(str(i).encode(), i)
    assert full.get(b"0") == 0 and full.get(str(MAX_ENTRIES).encode()) is None  # first kept, rest ignored


def test_assume_takes_only_well_formed_entries() -> None:
    k = Kept()
    k.assume({digest(b"a"): "[1]", "short": "[2]", digest(b"b"): 3, digest(b"c"): "x" * (MAX_KEPT_BYTES + 1)})
    k.assume(["not", "a", "mapping"])
    assert k.kept(lambda d: True) == {digest(b"a"): "[1]"}
    assert k.get(b"a") == [1]


def test_a_file_the_fast_path_declines_is_built_once_then_taken_by_its_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(CAREFUL, "_by", {})
    text = "enc: |\n  block\nb: 2\n"  # a block scalar: the careful path
    raw = text.encode()
    first = load_yaml(raw, "s.yaml", reload=lambda: raw)
    assert CAREFUL.kept(lambda d: True) == {digest(raw): '{"enc":"block\\n","b":2}'}
    from cfgc.base import loading

    real, calls = loading.compose, []
    monkeypatch.setattr(loading, "compose", lambda t, p: calls.append(t) or real(t, p))
    again = load_yaml(raw, "s.yaml", reload=lambda: raw)
    assert again.data == first.data and calls == []  # not composed again
    assert again.location(("b",)) == first.location(("b",))  # positions still come from the bytes
    other = b"enc: |\n  other\n"
    assert load_yaml(other, "s.yaml", reload=lambda: other).data == {"enc": "other\n"}
    assert calls == [text, text, other.decode()]  # positions of both documents above, then the changed bytes


def test_the_limits_are_documented_in_the_module() -> None:
    assert "MAX_KEPT_BYTES" in (kept.__doc__ or "") and "MAX_ENTRIES" in (kept.__doc__ or "")


def test_a_value_with_an_alias_is_not_kept() -> None:
    """An alias is one object at every place (the credential scan reports it once); a JSON copy is not."""
    from cfgc.base.loading import CAREFUL, load_yaml
    from cfgc.compile.hygiene import plaintext_findings

    raw = b"base: &b\n  api_token: q8ZtR2vLx9PmW4nB7cYkJ3hD\nother: *b\ntok: &t zR7mQ2pL9xW4vN8bC3kJ5hDy\nagain: *t\n"
    first = load_yaml(raw, "services/a.yaml", reload=lambda: raw)
    second = load_yaml(raw, "services/a.yaml", reload=lambda: raw)
    assert CAREFUL.get(raw) is None
    assert [d.message for d in plaintext_findings(first)] == [d.message for d in plaintext_findings(second)]
    shared: dict[str, object] = {"x": "a long shared string"}
    assert not distinct({"a": shared, "b": shared}) and not distinct({"a": shared["x"], "b": shared["x"]})
    assert distinct({"a": {"x": "a long shared string"}, "b": {"x": " ".join(["a long shared", "string"])}})
