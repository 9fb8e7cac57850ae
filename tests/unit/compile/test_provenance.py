from cfgc.base.loading import load_yaml
from cfgc.compile.provenance import Provenance, layer_history


def docs(*texts: str):
    return tuple(load_yaml(t.encode(), f"l{i}.yaml") for i, t in enumerate(texts))


def where(hist):
    return [(str(c.location), c.action) for c in hist]


def test_history_lists_every_layer_last_in_force() -> None:
    d = docs("a: {b: 1}\n", "x: 0\n", "a:\n  b: 2\n")
    assert where(layer_history(d, ("a", "b"))) == [("l0.yaml:1:5", "set"), ("l2.yaml:2:3", "set")]


def test_replace_of_an_ancestor_drops_lower_layers() -> None:
    d = docs("a: {b: 1, c: 1}\n", "a: !replace {b: 2}\n")
    assert where(layer_history(d, ("a", "b"))) == [("l1.yaml:1:14", "set")]
    assert layer_history(d, ("a", "c")) == []


def test_delete_keeps_the_removed_value_then_the_delete() -> None:
    d = docs("a: {b: 1}\n", "a: {b: !delete }\n")
    hist = layer_history(d, ("a", "b"))
    assert where(hist) == [("l0.yaml:1:5", "set"), ("l1.yaml:1:5", "delete")]
    assert hist[0].value == 1


def test_delete_reaches_descendants_and_a_key_can_come_back() -> None:
    d = docs("a: {b: {c: 1}}\n", "a: {b: !delete }\n", "a:\n  b: 3\n")
    assert where(layer_history(d, ("a", "b"))) == [("l0.yaml:1:5", "merge"), ("l1.yaml:1:5", "delete"),
                                                   ("l2.yaml:2:3", "set")]
    d = docs("a: {b: {c: 1}}\n", "a: {b: !delete }\n")
    assert where(layer_history(d, ("a", "b", "c"))) == [("l0.yaml:1:9", "set"), ("l1.yaml:1:5", "delete")]


def test_appended_and_prepended_items_keep_their_own_lines() -> None:
    d = docs("l: [a, b]\n", "l: !prepend\n  - p\n", "l: !append\n  - x\n  - y\n")
    p = Provenance(d, {})
    got = [(str(p.locate(("l", i))), p.history(("l", i))[-1].action) for i in range(5)]
    assert got == [("l1.yaml:2:5", "prepend"), ("l0.yaml:1:5", "set"), ("l0.yaml:1:8", "set"),
                   ("l2.yaml:2:5", "append"), ("l2.yaml:3:5", "append")]


def test_tags_are_shown_as_yaml_not_objects() -> None:
    d = docs("a: {b: 1, l: [1]}\n", "a: {b: !delete , l: !append [2], p: !prompt x@^1}\n")
    hist = layer_history(d, ("a",))
    assert hist[-1].value == {"b": "!delete", "l": [2], "p": "!prompt x@^1"}


def test_scalar_over_mapping_resets_descendants() -> None:
    d = docs("a: {b: 1}\n", "a: null\n", "a: {c: 2}\n")
    assert layer_history(d, ("a", "b")) == []


def test_list_items_come_from_the_layer_that_set_the_list() -> None:
    d = docs("l: [1, 2]\n", "l: [3]\n")
    assert where(layer_history(d, ("l", 0))) == [("l1.yaml:1:5", "set")]


def test_locate_falls_back_to_nearest_ancestor() -> None:
    d = docs("a: {b: 1}\n")
    p = Provenance(d, {})
    assert str(p.locate(("a", "zzz"))) == "l0.yaml:1:1"


def test_extends_origins_are_followed() -> None:
    d = docs("base: {t: 1}\nm: {$extends: base}\n")
    p = Provenance(d, {("m",): (("base",),)})
    hist = p.history(("m", "t"))
    assert [(str(c.location), c.via) for c in hist] == [("l0.yaml:1:8", "base")]


def test_locating_a_lower_layer_value_reads_no_other_layer_again() -> None:
    texts = ["a: 1\nb: {c: 2}\n", "b:\n  c: 3\n  d: 4\n"]
    reads: list[str] = []

    def lazy(i: int):
        def reload() -> bytes:
            reads.append(f"l{i}.yaml")
            return texts[i].encode()
        return load_yaml(texts[i].encode(), f"l{i}.yaml", reload=reload)

    prov = Provenance((lazy(0), lazy(1)), {})
    assert str(prov.locate(("a",))) == "l0.yaml:1:1"
    assert reads == ["l0.yaml"]  # the upper layer's marks were never needed
    assert str(prov.locate(("b", "d"))) == "l1.yaml:3:3"
    assert reads == ["l0.yaml", "l1.yaml"]


def test_a_lazy_contribution_equals_the_eager_one() -> None:
    d = docs("a: {b: 1}\n", "a:\n  b: 2\n")
    lazy = layer_history(d, ("a", "b"))[-1]
    eager = type(lazy)(lazy.location, lazy.value, lazy.action, lazy.via)
    assert lazy == eager and hash(lazy) == hash(eager)
    assert type(lazy)(d[0].location(("a", "b")), 2, "set") != eager  # another line is another contribution
