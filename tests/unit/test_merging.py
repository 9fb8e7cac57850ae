import pytest

from cfgc.errors import InputError
from cfgc.loading import load_yaml
from cfgc.merging import deep_merge, dotted, merge_layers, parse_dotted


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
