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
