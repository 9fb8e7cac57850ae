"""One path syntax: every written form of a path parses to the same tuple, in both modes."""

from __future__ import annotations

import pytest

from cfgc.base.paths import MISSING, PathError, dotted, flat, flat_key, lookup, parse

SAME = [
    ("models.primary.timeout_s", ("models", "primary", "timeout_s")),
    ("routing.fallbacks.0", ("routing", "fallbacks", 0)),
    ("routing.fallbacks[0]", ("routing", "fallbacks", 0)),
    ('["routing"]["fallbacks"][0]', ("routing", "fallbacks", 0)),
    ('[ "routing" ] ["fallbacks"] [0]', ("routing", "fallbacks", 0)),
    ('["a.b"][-1]', ("a.b", -1)),
    ("a[0][1].c", ("a", 0, 1, "c")),
    ("[2].a", (2, "a")),
    ("a[-1]", ("a", -1)),
    ('["\\u00e9"]', ("é",)),
]


@pytest.mark.parametrize(("text", "path"), SAME)
def test_every_form_parses_the_same_in_both_modes(text: str, path: tuple) -> None:
    assert parse(text) == path
    assert parse(text, lenient=True) == path


@pytest.mark.parametrize("text", ["", "a..b", "a.", '["a"]x', "a[x]", "a[0]b", '["a"', "a[0"])
def test_strict_refuses_what_lenient_reads(text: str) -> None:
    with pytest.raises(PathError, match="invalid path"):
        parse(text)


@pytest.mark.parametrize(("text", "path"), [
    ("", ()), ("a..b", ("a", "b")), ("a[x]", ("a", "x")), ("a[0]b", ("a[0]b",)),
])
def test_lenient_forms(text: str, path: tuple) -> None:
    assert parse(text, lenient=True) == path


@pytest.mark.parametrize(("_", "path"), [s for s in SAME if s[0] != '["a.b"][-1]'])
def test_dotted_and_flat_read_back(_: str, path: tuple) -> None:
    assert parse(dotted(path)) == path
    if all(not isinstance(k, int) or k >= 0 for k in path):
        assert parse(flat(path)) == path


def test_flat_key_normalises_and_leaves_the_unparsable_alone() -> None:
    assert flat_key("routing.fallbacks[0]") == flat_key('["routing"]["fallbacks"][0]') == "routing.fallbacks.0"
    assert flat_key("a..b") == "a..b"


TREE = {"a": [{"b": 1}, {"b": 2}], "m": {"0": "zero"}}


@pytest.mark.parametrize(("path", "negative", "want"), [
    (("a", 1, "b"), False, 2),
    (("a", -1, "b"), False, MISSING),
    (("a", -1, "b"), True, 2),
    (("a", -3), True, MISSING),
    (("a", 2), False, MISSING),
    (("m", 0), False, "zero"),  # an index on a mapping is the key of its digits
    (("a", "0"), False, MISSING),  # a quoted key never indexes a list
    (("a", 0, "b", "c"), False, MISSING),
    ((), False, TREE),
])
def test_lookup(path: tuple, negative: bool, want: object) -> None:
    assert lookup(TREE, path, negative=negative) == want or lookup(TREE, path, negative=negative) is want
