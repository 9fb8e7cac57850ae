"""Building values and marks (yaml_build), the core schema's number bounds (yaml_core),
and Document's locations and features: the cases the loader's other tests leave open."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import yaml

from cfgc.base.errors import InputError, Location
from cfgc.base.loading import Document, load_yaml
from cfgc.base.yaml_alias import MAX_EXPANDED_CHARS, MAX_EXPANDED_NODES, alias_bomb
from cfgc.base.yaml_build import Builder
from cfgc.base.yaml_compose import compose
from cfgc.base.yaml_core import NumberError, resolve_plain

MODES: list[Callable[[], bytes] | None] = [None, lambda: b""]
MODE_IDS = ["marks", "no-marks"]


def refusal(text: str, reload: Callable[[], bytes] | None = None) -> InputError:
    with pytest.raises(InputError) as info:
        load_yaml(text.encode(), "f.yaml", reload=reload)
    return info.value


# --- Document.location: the closest marked ancestor --------------------------------


NESTED = "a:\n  x:\n    z: 1\nb: 2\n"


@pytest.mark.parametrize(
    ("keypath", "line", "col"),
    [
        (("a", "x", "y"), 2, 3),  # a.x is marked, a.x.y is not: the parent, not the grandparent
        (("a", "x", "y", "w"), 2, 3),
        (("a", "q"), 1, 1),
        (("b", "q", "r"), 4, 1),
        (("nope",), 1, 1),
        ((), 1, 1),
    ],
)
def test_location_falls_back_to_the_closest_marked_ancestor(keypath: tuple[str, ...], line: int, col: int) -> None:
    doc = load_yaml(NESTED, "f.yaml")
    assert doc.location(keypath) == Location("f.yaml", line, col)


def test_location_without_any_marked_ancestor_is_the_start_of_the_file() -> None:
    doc = Document("conf/f.yaml", {"a": {"b": 1}}, {("a", "b"): (7, 5)})
    assert doc.location(("a", "b")) == Location("conf/f.yaml", 7, 5)
    assert doc.location(("a",)) == Location("conf/f.yaml", 1, 1)
    assert doc.location(("c", "d")) == Location("conf/f.yaml", 1, 1)
    assert doc.location() == Location("conf/f.yaml", 1, 1)


def test_template_feature_is_seen_for_statements_as_well_as_expressions() -> None:
    assert "template" in load_yaml("a: '{% if x %}y{% endif %}'\n", "f.yaml").features
    assert "template" in load_yaml("a: '{{ x }}'\n", "f.yaml").features
    assert "template" not in load_yaml("a: '{ x }%'\n", "f.yaml").features


# --- Builder: marks by default, the non-specific tag, keys and values --------------


def test_builder_records_marks_by_default() -> None:
    text = "a:\n  - x\n  - y: 1\n"
    builder = Builder("f.yaml", text)
    assert builder.build(yaml.compose(text)) == {"a": ["x", {"y": 1}]}
    assert builder.marks[("a",)] == (1, 1)
    assert builder.marks[("a", 1)] == (3, 5)
    assert builder.marks[("a", 1, "y")] == (3, 5)


@pytest.mark.parametrize("reload", MODES, ids=MODE_IDS)
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("a: !\t12\n", "12"),  # a tab after the tag
        ("a: !\n  12\n", "12"),  # the value on the next line
        ("a: !\r\n  12\r\n", "12"),
        ("b: ! x\na: !\n  12\n", "12"),
        ("a: !", ""),  # at the end of the text: the empty string, not null
        ("a: !\n", ""),
    ],
)
def test_non_specific_tag_before_any_blank_makes_a_string(
    text: str, value: str, reload: Callable[[], bytes] | None
) -> None:
    assert load_yaml(text.encode(), "f.yaml", reload=reload).data["a"] == value


@pytest.mark.parametrize(
    ("text", "data"),
    [
        ("a: ! x\rb: 12", {"a": "x", "b": 12}),  # libyaml counts a lone CR as a line break
        ("a: ! b\nc: &x", {"a": "b", "c": None}),  # an anchor at the very end, no blank after it
        ("a: ! b\nc: [&x]\n", {"a": "b", "c": [None]}),
        ("a: ! b\nc: &x 12\n", {"a": "b", "c": 12}),
        ("a: ! b\nc: &x ! 12\n", {"a": "b", "c": "12"}),
    ],
)
def test_non_specific_lookup_survives_odd_line_breaks_and_anchors(text: str, data: object) -> None:
    assert load_yaml(text, "f.yaml").data == data


@pytest.mark.parametrize("reload", MODES, ids=MODE_IDS)
def test_str_tag_on_a_collection_value_is_refused(reload: Callable[[], bytes] | None) -> None:
    err = refusal("k: v\na: !!str [1]\n", reload)
    assert err.message.startswith("unknown tag !!str")
    assert str(err.location) == "f.yaml:2:4"


@pytest.mark.parametrize("reload", MODES, ids=MODE_IDS)
def test_duplicate_key_names_the_line_of_the_first_definition(reload: Callable[[], bytes] | None) -> None:
    err = refusal("x:\n  y:\n      a: 1\n      a: 2\n", reload)
    assert err.message == "duplicate key 'a' (first defined at line 3)"
    assert str(err.location) == "f.yaml:4:7"


# --- yaml_core: what an out-of-range number's message shows -------------------------


@pytest.mark.parametrize("text", ["9" * 20, "-" + "9" * 23, "0o" + "7" * 22, "0x" + "f" * 17])
def test_out_of_range_integer_up_to_24_characters_is_shown_whole(text: str) -> None:
    with pytest.raises(NumberError) as info:
        resolve_plain(text)
    assert str(info.value).startswith(f"integer {text} is outside the 64-bit range")


@pytest.mark.parametrize("text", ["9" * 25, "+" + "1" * 24, "0x" + "f" * 30, "9" * 5000])
def test_longer_out_of_range_integer_is_shown_by_its_first_20_characters(text: str) -> None:
    with pytest.raises(NumberError) as info:
        resolve_plain(text)
    assert str(info.value).startswith(f"integer {text[:20]}... is outside the 64-bit range")


def test_overflowing_float_is_shown_by_its_first_24_characters() -> None:
    text = "1" * 400 + ".5"
    with pytest.raises(NumberError) as info:
        resolve_plain(text)
    assert str(info.value) == f"{text[:24]!r} overflows a 64-bit float"


# --- yaml_alias: the expansion limits are inclusive, and name the innermost collection --


def _node_bomb(extra: int) -> str:
    """A list of exactly MAX_EXPANDED_NODES + ``extra`` nodes once expanded, under the key ``big``
    (line 2): 199 aliases of a 1000-node list, 999 more scalars, the list itself."""
    inner = "[" + ", ".join(["x"] * 999) + "]"
    items = [f"&a {inner}"] + ["*a"] * 198 + ["x"] * (999 + extra)
    assert 1 + 199 * 1000 + 999 + extra == MAX_EXPANDED_NODES + extra
    return "k: 1\nbig: [" + ", ".join(items) + "]\n"


def test_alias_expansion_of_exactly_the_node_limit_is_accepted() -> None:
    node = compose(_node_bomb(0), "f.yaml")
    assert node is not None
    # The list under big, not the document (whose mapping and keys add four nodes).
    assert alias_bomb(node.value[1][1]) is None


def test_alias_expansion_one_node_over_the_limit_names_the_list() -> None:
    err = refusal(_node_bomb(1))
    assert err.message == f"aliases expand to more than {MAX_EXPANDED_NODES} nodes (alias bomb?)"
    assert str(err.location) == "f.yaml:2:6"


def test_alias_expansion_of_exactly_the_character_limit_is_accepted() -> None:
    part = 16 * 1024
    count = MAX_EXPANDED_CHARS // part
    assert count * part == MAX_EXPANDED_CHARS
    text = "[&s " + "x" * part + ", " + ", ".join(["*s"] * (count - 1)) + "]\n"
    node = compose(text, "f.yaml")
    assert node is not None
    assert alias_bomb(node) is None
    over = compose(text.replace("[&s ", "[y, &s "), "f.yaml")
    assert over is not None
    bomb = alias_bomb(over)
    assert bomb is not None
    assert bomb[0] == f"aliases expand to more than {MAX_EXPANDED_CHARS} characters of scalars (alias bomb?)"


# --- yaml_compose: libyaml's own refusal is reported when the pure-Python reader accepts ----


@pytest.mark.parametrize("reload", MODES, ids=MODE_IDS)
def test_a_yaml_version_only_libyaml_refuses_is_reported_with_its_place(reload: Callable[[], bytes] | None) -> None:
    # PyYAML's pure-Python parser only warns about %YAML 1.3; libyaml refuses it.
    err = refusal("%YAML 1.3\n---\na: 1\n", reload)
    assert "incompatible YAML document" in err.message
    assert str(err.location) == "f.yaml:1:1"
