"""YAML 1.2.2 core schema tag resolution (https://yaml.org/spec/1.2.2/#1032-tag-resolution)
and the non-specific tag ``!`` (section 6.8.1: a "!"-tagged plain scalar is a string, a
"!"-tagged collection is a sequence or a mapping)."""

from __future__ import annotations

import pytest

from cfgc.base.errors import InputError
from cfgc.base.loading import load_yaml

# (plain scalar, value by the spec's core schema table)
CORE = [
    ("null", None), ("Null", None), ("NULL", None), ("~", None), ("", None),
    ("nULL", "nULL"), ("none", "none"),
    ("true", True), ("True", True), ("TRUE", True), ("false", False), ("False", False), ("FALSE", False),
    ("tRUE", "tRUE"), ("yes", "yes"), ("no", "no"), ("on", "on"), ("off", "off"), ("y", "y"), ("n", "n"),
    ("0", 0), ("-0", 0), ("+1", 1), ("012", 12), ("-17", -17),
    ("0o17", 15), ("0o0", 0), ("0O17", "0O17"), ("-0o17", "-0o17"), ("0o8", "0o8"),
    ("0x1F", 31), ("0xff", 255), ("0X1F", "0X1F"), ("+0x1F", "+0x1F"), ("0x", "0x"),
    ("0b1", "0b1"), ("1_000", "1_000"), ("1,000", "1,000"), ("12:30", "12:30"), ("0o", "0o"),
    (".5", 0.5), ("+.5", 0.5), ("-.5", -0.5), ("1.", 1.0), ("1.5", 1.5), ("1e3", 1000.0), ("1E3", 1000.0),
    ("1e+3", 1000.0), ("1.5e-3", 0.0015), ("-2E-2", -0.02),
    (".", "."), (".e3", ".e3"), ("e3", "e3"), ("1e", "1e"), ("+", "+"), ("1.2.3", "1.2.3"),
    (".infinity", ".infinity"), (".Nan", ".Nan"), ("inf", "inf"), ("nan", "nan"),
]


@pytest.mark.parametrize(("text", "want"), CORE)
def test_core_schema_plain_scalars(text: str, want: object) -> None:
    got = load_yaml(f"k: {text}\n".encode(), "f.yaml").data["k"]
    assert got == want and type(got) is type(want), (text, got)


@pytest.mark.parametrize("text", [".inf", "-.inf", "+.INF", ".Inf", ".nan", ".NaN", ".NAN", "1e400"])
def test_non_finite_floats_are_refused_with_their_location(text: str) -> None:
    with pytest.raises(InputError) as info:
        load_yaml(f"a: 1\nk: {text}\n".encode(), "f.yaml")
    assert str(info.value.location) == "f.yaml:2:4"


@pytest.mark.parametrize(("text", "want"), [
    ("! 12", "12"), ("! true", "true"), ("! null", "null"), ("! ~", "~"), ("! 0x1F", "0x1F"),
    ("! .inf", ".inf"), ("! 1e3", "1e3"), ("! abc", "abc"), ('! "x"', "x"),
    ("&a ! 12", "12"), ("! &a 12", "12"),
    ("! [1, b]", [1, "b"]), ("! {b: 1}", {"b": 1}), ("[! 1, 2]", ["1", 2]),
])
def test_non_specific_tag(text: str, want: object) -> None:
    for reload in (None, lambda: b""):  # with and without marks (two construction paths)
        got = load_yaml(f"k: {text}\n".encode(), "f.yaml", reload=reload).data["k"]
        assert got == want and type(got) is type(want), (text, got)


def test_non_specific_tag_on_a_key_and_through_an_alias() -> None:
    doc = load_yaml(b"! null: 1\na: &x ! 7\nb: *x\nc: '! 7'\nd: 7\n", "f.yaml")
    assert doc.data == {"null": 1, "a": "7", "b": "7", "c": "! 7", "d": 7}


def test_a_non_specific_tag_in_a_non_ascii_line() -> None:
    assert load_yaml("é: [xé, ! 3, 4]\n".encode(), "f.yaml").data == {"é": ["xé", "3", 4]}


@pytest.mark.parametrize(("text", "where"), [
    ("a: 1\nb: [1, 2\n", "f.yaml:2:9"),
    ("a: 1\nb: 'x\n\n\n", "f.yaml:2:6"),
    ("a: [1,", "f.yaml:1:7"),
])
def test_end_of_stream_errors_point_inside_the_file(text: str, where: str) -> None:
    with pytest.raises(InputError) as info:
        load_yaml(text.encode(), "f.yaml")
    assert str(info.value.location) == where
