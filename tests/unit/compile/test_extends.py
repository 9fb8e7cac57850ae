import pytest

from cfgc.base.errors import InputError, Location
from cfgc.compile.extends import resolve_extends


def loc(path):
    return Location("f.yaml", len(path), 1)


def test_base_is_merged_under_own_keys() -> None:
    root = {"base": {"a": 1, "b": {"x": 1, "y": 2}}, "m": {"$extends": "base", "b": {"y": 3}, "c": 4}}
    out, origins = resolve_extends(root, loc)
    assert out["m"] == {"a": 1, "b": {"x": 1, "y": 3}, "c": 4}
    assert origins == {("m",): (("base",),)}
    assert "$extends" not in str(out)


def test_list_of_bases_later_wins() -> None:
    root = {"a": {"k": 1, "only_a": 1}, "b": {"k": 2}, "m": {"$extends": ["a", "b"]}}
    out, _ = resolve_extends(root, loc)
    assert out["m"] == {"k": 2, "only_a": 1}


def test_chains_resolve() -> None:
    root = {"a": {"x": 1}, "b": {"$extends": "a", "y": 2}, "c": {"$extends": "b", "z": 3}}
    out, _ = resolve_extends(root, loc)
    assert out["c"] == {"x": 1, "y": 2, "z": 3}


def test_cycle_names_the_chain() -> None:
    root = {"a": {"$extends": "b"}, "b": {"$extends": "c"}, "c": {"$extends": "a"}}
    with pytest.raises(InputError) as info:
        resolve_extends(root, loc)
    assert "cycle" in info.value.message
    assert "a -> b -> c -> a" in info.value.message


def test_extending_an_ancestor_is_a_cycle() -> None:
    with pytest.raises(InputError, match="ancestor"):
        resolve_extends({"m": {"n": {"$extends": "m"}}}, loc)


def test_missing_base_is_an_error_at_the_extends_key() -> None:
    with pytest.raises(InputError) as info:
        resolve_extends({"m": {"$extends": "nope.x"}}, loc)
    assert "'nope.x' does not exist" in info.value.message
    assert info.value.location == loc(("m", "$extends"))


def test_base_must_be_a_mapping() -> None:
    with pytest.raises(InputError, match="not a mapping"):
        resolve_extends({"s": 1, "m": {"$extends": "s"}}, loc)


def test_no_extends_returns_same_object() -> None:
    root = {"a": {"b": 1}}
    out, origins = resolve_extends(root, loc)
    assert out is root and origins == {}


def test_missing_base_names_the_chain_like_a_cycle_does() -> None:
    root = {"providers": {}, "models": {"chat-base": {"$extends": "providers.azure"},
                                        "chat": {"$extends": "models.chat-base", "x": 1}}}
    with pytest.raises(InputError) as info:
        resolve_extends(root, loc)
    msg = info.value.message
    assert "'providers.azure' does not exist" in msg
    # whichever mapping the resolver reaches first, the chain ends at the missing base
    assert msg.endswith("(models.chat -> models.chat-base -> providers.azure)") or msg.endswith(
        "(models.chat-base -> providers.azure)")
    assert info.value.location == loc(("models", "chat-base", "$extends"))


# --- Pinned by mutation testing (scripts/mutation.sh extends) ---


def at(path):
    """A locator that names the path it was asked for, so an error's location is checkable."""
    return Location("/".join(map(str, path)), 1, 1)


@pytest.mark.parametrize("refs", [3, [], "", ["a", 1], ["a", ""], {"a": 1}, None])
def test_malformed_extends_is_refused_at_its_key(refs) -> None:
    with pytest.raises(InputError) as info:
        resolve_extends({"a": {"x": 1}, "m": {"$extends": refs}}, at)
    assert info.value.message == "$extends takes a dotted path or a list of dotted paths"
    assert info.value.location == at(("m", "$extends"))


def test_cycle_is_located_at_the_extends_that_closes_it() -> None:
    with pytest.raises(InputError) as info:
        resolve_extends({"a": {"$extends": "b"}, "b": {"$extends": "a"}}, at)
    assert info.value.message == "$extends cycle: a -> b -> a"
    assert info.value.location == at(("b", "$extends"))


def test_ancestor_cycle_message_and_location() -> None:
    with pytest.raises(InputError) as info:
        resolve_extends({"m": {"n": {"o": {"$extends": "m.n"}}}}, at)
    assert info.value.message == "$extends cycle: m.n.o extends its own ancestor m.n"
    assert info.value.location == at(("m", "n", "o", "$extends"))


def test_sibling_and_self_named_prefix_are_not_ancestors() -> None:
    root = {"m": {"a": {"x": 1}, "ab": {"$extends": "m.a", "y": 2}}}
    out, origins = resolve_extends(root, at)
    assert out["m"]["ab"] == {"x": 1, "y": 2}
    assert origins == {("m", "ab"): (("m", "a"),)}


def test_extending_itself_is_a_cycle() -> None:
    with pytest.raises(InputError, match=r"m extends its own ancestor m$"):
        resolve_extends({"m": {"$extends": "m"}}, at)


def test_base_of_the_wrong_type_is_named() -> None:
    with pytest.raises(InputError) as info:
        resolve_extends({"s": [1], "m": {"$extends": ["s"]}}, at)
    assert info.value.message == "$extends: 's' is a list, not a mapping"
    assert info.value.location == at(("m", "$extends"))


def test_missing_base_message_names_the_chain() -> None:
    with pytest.raises(InputError) as info:
        resolve_extends({"m": {"$extends": "x.y"}}, at)
    assert info.value.message == "$extends: 'x.y' does not exist in this target (m -> x.y)"
    assert info.value.location == at(("m", "$extends"))


def test_missing_base_through_a_chain_lists_every_hop() -> None:
    root = {"a": {"$extends": "b"}, "b": {"$extends": "nope"}}
    with pytest.raises(InputError) as info:
        resolve_extends(root, at, [("a",), ("b",)])
    assert info.value.message == "$extends: 'nope' does not exist in this target (a -> b -> nope)"
    assert info.value.location == at(("b", "$extends"))


def test_hops_are_unwound_after_a_resolved_base() -> None:
    # After 'a' resolves its base 'b', the chain reported for 'c' must not still hold 'a'.
    root = {"b": {"k": 1}, "a": {"$extends": "b"}, "c": {"$extends": "gone"}}
    with pytest.raises(InputError) as info:
        resolve_extends(root, at, [("a",), ("c",)])
    assert info.value.message.endswith("(c -> gone)")


def test_origins_list_every_base_in_order() -> None:
    root = {"a": {"k": 1}, "b": {"k": 2}, "m": {"$extends": ["b", "a"], "own": 0}}
    out, origins = resolve_extends(root, at)
    assert out["m"] == {"k": 1, "own": 0}
    assert origins == {("m",): (("b",), ("a",))}


def test_own_keys_win_over_every_base() -> None:
    root = {"a": {"k": 1, "d": {"p": 1}}, "b": {"k": 2}, "m": {"$extends": ["a", "b"], "k": 3, "d": {"q": 2}}}
    out, _ = resolve_extends(root, at)
    assert out["m"] == {"k": 3, "d": {"p": 1, "q": 2}}


def test_extends_inside_a_list_item() -> None:
    root = {"a": {"x": 1}, "l": [{"$extends": "a", "y": 2}, 3, {"z": 0}]}
    out, origins = resolve_extends(root, at)
    assert out["l"] == [{"x": 1, "y": 2}, 3, {"z": 0}]
    assert origins == {("l", 0): (("a",),)}
    assert root["l"][0] == {"$extends": "a", "y": 2}  # the input is not modified


def test_list_item_extending_its_ancestor_is_a_cycle() -> None:
    with pytest.raises(InputError) as info:
        resolve_extends({"m": {"l": [{"$extends": "m"}]}}, at)
    assert info.value.message == "$extends cycle: m.l[0] extends its own ancestor m"
    assert info.value.location == at(("m", "l", 0, "$extends"))


def test_explicit_paths_limit_what_is_rebuilt() -> None:
    root = {"a": {"x": 1}, "m": {"$extends": "a"}, "n": {"$extends": "a"}}
    out, origins = resolve_extends(root, at, [("m",)])
    assert out["m"] == {"x": 1}
    assert out["n"] is root["n"]  # not listed: left as it is
    assert origins == {("m",): (("a",),)}
    same, none = resolve_extends(root, at, [])
    assert same is root and none == {}


def test_untouched_subtrees_are_shared_and_a_base_resolved_once() -> None:
    shared = {"deep": {"v": 1}}
    root = {"keep": shared, "a": {"$extends": "b"}, "b": {"$extends": "c", "y": 2}, "c": {"x": 1},
            "d": {"$extends": "b"}}
    out, origins = resolve_extends(root, at)
    assert out["keep"] is shared
    assert out["a"] == out["d"] == {"x": 1, "y": 2}
    assert out["b"] == {"x": 1, "y": 2}
    assert "$extends" not in str(out)
    assert origins == {("a",): (("b",),), ("b",): (("c",),), ("d",): (("b",),)}


def test_a_list_item_can_be_a_base() -> None:
    root = {"a": {"x": 1}, "l": [{"$extends": "a"}], "m": {"$extends": "l[0]", "y": 2}}
    out, origins = resolve_extends(root, at)
    assert out["m"] == {"x": 1, "y": 2}
    assert origins == {("l", 0): (("a",),), ("m",): (("l", 0),)}


@pytest.mark.parametrize(("ref", "chain"), [("l", "l -> l[0] -> m -> l"), ("l[0]", "l[0] -> m -> l[0]")])
def test_cycle_back_into_a_list_names_the_list(ref: str, chain: str) -> None:
    with pytest.raises(InputError) as info:
        resolve_extends({"l": [{"$extends": "m"}], "m": {"$extends": ref}}, at)
    assert info.value.message == f"$extends cycle: {chain}"
    assert info.value.location == at(("m", "$extends"))
