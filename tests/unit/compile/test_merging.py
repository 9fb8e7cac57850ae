import pytest

from cfgc.base.errors import InputError
from cfgc.base.loading import load_yaml
from cfgc.compile.merging import deep_merge, dotted, merge_layers, parse_dotted


def layers(*texts: str):
    return [load_yaml(t.encode(), f"layer{i}.yaml") for i, t in enumerate(texts)]


def merged(*texts: str):
    return merge_layers(layers(*texts))


def test_mappings_deep_merge_and_scalars_replace() -> None:
    out = merged("a: {x: 1, y: 2}\nb: 1\n", "a: {y: 3, z: 4}\nb: 2\n")
    assert out == {"a": {"x": 1, "y": 3, "z": 4}, "b": 2}


def test_lists_replace_by_default() -> None:
    assert merged("l: [1, 2]\n", "l: [3]\n") == {"l": [3]}


def test_replace_tag_replaces_a_mapping() -> None:
    assert merged("a: {x: 1, y: 2}\n", "a: !replace {z: 3}\n") == {"a": {"z": 3}}


def test_delete_removes_inherited_key() -> None:
    assert merged("a: {x: 1, y: 2}\n", "a: {x: !delete ,}\n") == {"a": {"y": 2}}


def test_delete_of_missing_key_is_harmless() -> None:
    assert merged("a: 1\n", "b: !delete\n") == {"a": 1}


def test_append_and_prepend_extend_inherited_lists() -> None:
    assert merged("l: [b]\n", "l: !append [c]\n", "l: !prepend [a]\n") == {"l": ["a", "b", "c"]}


def test_append_onto_nothing_starts_a_list() -> None:
    assert merged("a: 1\n", "l: !append [x]\n") == {"a": 1, "l": ["x"]}


def test_append_onto_a_mapping_is_an_error_at_the_tag() -> None:
    with pytest.raises(InputError) as info:
        merged("l: {a: 1}\n", "x: 1\nl: !append [c]\n")
    assert str(info.value.location) == "layer1.yaml:2:1"
    assert "needs an inherited list" in info.value.message


def test_tags_inside_a_new_subtree_are_applied() -> None:
    out = merged("a: 1\n", "new: {keep: 1, gone: !delete , l: !append [1], r: !replace {x: 1}}\n")
    assert out == {"a": 1, "new": {"keep": 1, "l": [1], "r": {"x": 1}}}


def test_inputs_are_not_mutated() -> None:
    docs = layers("a: {x: 1}\n", "a: {y: 2}\n")
    before = docs[0].data["a"].copy()
    merge_layers(docs)
    assert docs[0].data["a"] == before


def test_top_level_must_be_a_mapping() -> None:
    with pytest.raises(InputError) as info:
        merged("a: 1\n", "- just a list\n")
    assert "must be a mapping" in info.value.message
    assert info.value.location.path == "layer1.yaml"


def test_deep_merge_of_resolved_values() -> None:
    assert deep_merge({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}}) == {"a": {"b": 1, "c": 3}}


@pytest.mark.parametrize("text", ["a", "a.b", "a.b[0]", "a[0][1].c", "models.primary.timeout_s"])
def test_dotted_round_trip(text: str) -> None:
    assert dotted(parse_dotted(text)) == text


# --- Behaviour pinned by mutation testing (scripts/mutation.sh merging) ---

from cfgc.compile.merging import MISSING, get_path, type_name  # noqa: E402


def test_an_empty_layer_does_not_stop_later_layers() -> None:
    assert merged("a: 1\n", "", "# only a comment\n", "b: 2\n") == {"a": 1, "b": 2}


def test_no_layers_give_an_empty_mapping_and_a_base_is_kept() -> None:
    assert merge_layers([]) == {}
    assert merge_layers([], base={"x": 1}) == {"x": 1}
    assert merge_layers(layers("y: 2\n"), base={"x": 1}) == {"x": 1, "y": 2}


def test_top_level_error_names_the_type_found() -> None:
    with pytest.raises(InputError) as info:
        merged("- a\n")
    assert info.value.message == "a layer must be a mapping at the top level, not a list"


def test_keys_after_a_delete_are_kept() -> None:
    out = merged("a: {x: 1, z: 2}\n", "a: {x: !delete , y: 5, z: 3}\n")
    assert out == {"a": {"y": 5, "z": 3}}


def test_replace_strips_tags_inside_its_value() -> None:
    out = merged("a: {x: 1}\n", "a: !replace {gone: !delete , y: 1, l: !append [2]}\n")
    assert out == {"a": {"y": 1, "l": [2]}}


def test_append_onto_null_starts_a_list() -> None:
    assert merged("l: null\n", "l: !append [x]\n") == {"l": ["x"]}
    assert merged("l: null\n", "l: !prepend [x]\n") == {"l": ["x"]}


def test_prepend_onto_a_scalar_is_an_error_naming_tag_path_and_type() -> None:
    with pytest.raises(InputError) as info:
        merged("a: {l: 3}\n", "a:\n  l: !prepend [c]\n")
    assert info.value.message == "!prepend needs an inherited list at 'a.l', found an integer"
    assert str(info.value.location) == "layer1.yaml:2:3"


def test_appended_and_prepended_items_are_stripped_of_tags() -> None:
    out = merged("l: [b]\n", "l: !append [{x: !replace {y: 1}, z: !delete }]\n")
    assert out == {"l": ["b", {"x": {"y": 1}}]}
    out = merged("l: [b]\n", "l: !prepend [[{k: !replace [1]}]]\n")
    assert out == {"l": [[{"k": [1]}], "b"]}


def test_tags_inside_list_items_are_stripped() -> None:
    out = merged("l: [0]\n", "l: [{a: !replace {x: 1}, d: !delete }, [!append [2]], 3]\n")
    assert out == {"l": [{"a": {"x": 1}}, [[2]], 3]}
    assert merged("new: [{a: !replace [1]}]\n") == {"new": [{"a": [1]}]}


@pytest.mark.parametrize("text", ["l: [1, !delete ]\n", "l:\n  - [1, !delete ]\n", "l: !append [!delete ]\n"])
def test_delete_in_a_list_is_an_error_at_the_list(text: str) -> None:
    with pytest.raises(InputError) as info:
        merged("a: 1\n", text)
    assert info.value.message == "!delete cannot stand in a list"
    assert info.value.location.path == "layer1.yaml"
    assert info.value.location.line >= 1


def test_a_mapping_over_a_scalar_replaces_it_with_tags_applied() -> None:
    assert merged("a: 1\n", "a: {x: !delete , y: !append [1]}\n") == {"a": {"y": [1]}}


def test_untagged_subtrees_are_shared_not_copied() -> None:
    docs = layers("a: {b: {c: 1}}\nd: {e: 2}\n", "x: 1\nd: {f: 3}\n")
    out = merge_layers(docs)
    assert out["a"] is docs[0].data["a"]
    assert out["d"] == {"e": 2, "f": 3}


def test_a_tagged_subtree_is_a_new_value_and_leaves_the_input_alone() -> None:
    docs = layers("a: {keep: {k: 1}, t: !replace {x: 1}}\n")
    out = merge_layers(docs)
    assert out == {"a": {"keep": {"k": 1}, "t": {"x": 1}}}
    assert out["a"] is not docs[0].data["a"]
    assert out["a"]["keep"] is docs[0].data["a"]["keep"]
    assert type(docs[0].data["a"]["t"]).__name__ == "Replace"


def test_deep_merge_adds_new_keys_and_replaces_non_mappings() -> None:
    assert deep_merge({"a": 1}, {"b": {"c": 1}}) == {"a": 1, "b": {"c": 1}}
    assert deep_merge({"a": {"x": 1}}, {"a": [1]}) == {"a": [1]}
    assert deep_merge([1], {"a": 1}) == {"a": 1}
    base = {"a": {"x": 1}}
    deep_merge(base, {"a": {"y": 2}})
    assert base == {"a": {"x": 1}}


def test_get_path() -> None:
    value = {"a": [{"b": 1}, 2], "s": "text"}
    assert get_path(value, ()) is value
    assert get_path(value, ("a", 0, "b")) == 1
    assert get_path(value, ("a", 1)) == 2
    assert get_path(value, ("missing",)) is MISSING
    assert get_path(value, ("a", 2)) is MISSING
    assert get_path(value, ("a", -1)) is MISSING
    assert get_path(value, ("a", "0")) is MISSING
    assert get_path(value, ("s", 0)) is MISSING
    assert get_path({"n": None}, ("n",)) is None


def test_dotted_forms() -> None:
    assert dotted(()) == "(root)"
    assert dotted(("a", 0, 1, "b")) == "a[0][1].b"
    assert dotted((0, "a")) == "[0].a"
    assert dotted((1,)) == "[1]"


def test_parse_dotted_forms() -> None:
    assert parse_dotted("") == ()
    assert parse_dotted("a..b") == ("a", "b")
    assert parse_dotted("a[0][1].c") == ("a", 0, 1, "c")
    assert parse_dotted("[2].a") == (2, "a")
    assert parse_dotted("a[-1]") == ("a", -1)
    assert parse_dotted("a[x]") == ("a", "x")
    assert parse_dotted("a[0]b") == ("a[0]b",)


@pytest.mark.parametrize(("value", "name"), [
    (MISSING, "nothing"), (None, "null"), ({}, "a mapping"), ([], "a list"), ("s", "a string"),
    (True, "a boolean"), (1, "an integer"), (1.5, "a number"), (b"x", "bytes"),
])
def test_type_name(value: object, name: str) -> None:
    assert type_name(value) == name


@pytest.mark.parametrize("text", [
    "a: {l: [!delete ]}\n",  # a mapping over a scalar
    "a: !replace {l: [!delete ]}\n",  # inside !replace
    "n: {m: {l: [!delete ]}}\n",  # a new subtree
    "l: !append [{k: [!delete ]}]\n",  # inside appended items
])
def test_delete_in_a_nested_list_is_an_error_at_its_line(text: str) -> None:
    with pytest.raises(InputError) as info:
        merged("a: 1\n", "x: 0\n" + text)
    assert info.value.message == "!delete cannot stand in a list"
    assert (info.value.location.path, info.value.location.line) == ("layer1.yaml", 2)
