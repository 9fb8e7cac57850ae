from __future__ import annotations

import datetime as dt
import math

import pytest

from cfgc.base.errors import InputError
from cfgc.secrets import fileio
from cfgc.secrets.yamlio import resolve_plain


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("yes", "yes"),
        ("on", "on"),
        ("y", "y"),
        ("true", True),
        ("False", False),
        ("~", None),
        ("null", None),
        ("0755", 493),
        ("0o17", 15),
        ("0x1F", 31),
        ("1_000", 1000),
        ("1:20", "1:20"),
        ("1.5e-7", 1.5e-7),
        ("1e21", 1e21),
        (".5", 0.5),
        ("-0.0", -0.0),
        ("2024-01-02", dt.datetime(2024, 1, 2, tzinfo=dt.UTC)),
        ("2024-01-02 03:04:05", dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)),
        ("2024-13-02", "2024-13-02"),
        ("12abc", "12abc"),
    ],
)
def test_yaml_v3_resolution(text: str, value: object) -> None:
    got = resolve_plain(text)
    assert got == value and type(got) is type(value)


def test_special_floats() -> None:
    assert math.isnan(resolve_plain(".nan"))  # type: ignore[arg-type]
    assert resolve_plain("-.inf") == -math.inf


def test_sops_layout() -> None:
    tree = {"a": {"b": [1, {"c": "x", "d": [2]}], "s": "l1\nl2\n"}, "y": "yes", "e": {}}
    assert fileio.dumps(tree, "yaml") == (
        "a:\n"
        "    b:\n"
        "        - 1\n"
        "        - c: x\n"
        "          d:\n"
        "            - 2\n"
        "    s: |\n"
        "        l1\n"
        "        l2\n"
        '"y": "yes"\n'
        "e: {}\n"
    )


@pytest.mark.parametrize("bad", ["a: 1\na: 2\n", "1: x\n", "a: [\n", "--- a: 1\n--- b: 2\n"])
def test_bad_yaml(bad: str) -> None:
    with pytest.raises(InputError):
        fileio.loads(bad, "yaml")


def test_json_like_go() -> None:
    assert fileio.dumps({"a": "<&>", "b": [], "c": {}}, "json") == (
        '{\n\t"a": "\\u003c\\u0026\\u003e",\n\t"b": [],\n\t"c": {}\n}\n'
    )
    with pytest.raises(InputError):
        fileio.loads('{"a": 1, "a": 2}', "json")
