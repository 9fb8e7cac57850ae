"""The loader's steps through load_yaml: tags, key checks (with and without marks), lazy marks."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cfgc.base.errors import InputError
from cfgc.base.loading import MAX_DEPTH, Document, load_yaml
from cfgc.base.tags import DELETE, Append, Prepend, Replace

KNOWN = "(cfgc knows !replace, !delete, !append, !prepend, !prompt)"
# Both construction paths: marks now (None), and marks later (a reload), where the
# common file takes the fast path and any file with a tag or odd key the unmarked builder.
MODES: list[Callable[[], bytes] | None] = [None, lambda: b""]
MODE_IDS = ["marks", "no-marks"]


def refusal(text: str, reload: Callable[[], bytes] | None = None) -> tuple[str, str]:
    with pytest.raises(InputError) as info:
        load_yaml(text.encode(), "f.yaml", reload=reload)
    return info.value.message, str(info.value.location)


@pytest.mark.parametrize("reload", MODES, ids=MODE_IDS)
@pytest.mark.parametrize(
    ("text", "message", "where"),
    [
        ("a: 1\nb: !delete [1]\n", "!delete needs a scalar", "f.yaml:2:4"),
        ("a: 1\nb: !prompt {x: 1}\n", "!prompt needs a scalar", "f.yaml:2:4"),
        ("a: 1\nb: !frob [1]\n", f"unknown tag !frob {KNOWN}", "f.yaml:2:4"),
        ("a: 1\nb: !frob x\n", f"unknown tag !frob {KNOWN}", "f.yaml:2:4"),
        ("a: 1\nb: !!set {x: 1}\n", f"unknown tag !!set {KNOWN}", "f.yaml:2:4"),
        ("a: 1\nb: !!seq x\n", f"unknown tag !!seq {KNOWN}", "f.yaml:2:4"),
        ("a: 1\nb: !replace 1\n", "!replace needs a mapping or list", "f.yaml:2:4"),
        ("a: 1\nb: !append 1\n", "!append needs a list", "f.yaml:2:4"),
        ("a: 1\nb: !prepend x\n", "!prepend needs a list", "f.yaml:2:4"),
        ("a: 1\nb: !prepend {x: 1}\n", "!prepend needs a list", "f.yaml:2:4"),
        ("a: 1\nb: !!seq {x: 1}\n", "tag !!seq does not fit this node", "f.yaml:2:4"),
        ("a: 1\nb: !!map [1]\n", "tag !!map does not fit this node", "f.yaml:2:4"),
        ("a: 1\nb: !delete Null\n", "!delete takes no value", "f.yaml:2:4"),
        ("a: 1\nb: !!int true\n", "'true' is not a valid !!int", "f.yaml:2:4"),
        ("a: 1\nb: !!float false\n", "'false' is not a valid !!float", "f.yaml:2:4"),
        ("a: 1\nb: !!int 1.5\n", "'1.5' is not a valid !!int", "f.yaml:2:4"),
        ("a: 1\nb: !!int ''\n", "'' is not a valid !!int", "f.yaml:2:4"),
        ("a: 1\nb: !!bool ''\n", "'' is not a valid !!bool", "f.yaml:2:4"),
        ("a: 1\nb: !!bool 1\n", "'1' is not a valid !!bool", "f.yaml:2:4"),
        ("a: 1\nb: !!null 0\n", "'0' is not a valid !!null", "f.yaml:2:4"),
        ("a: 1\nb: !!float x\n", "'x' is not a valid !!float", "f.yaml:2:4"),
    ],
)
def test_tags_that_do_not_fit_are_refused_at_the_node(
    text: str, message: str, where: str, reload: Callable[[], bytes] | None
) -> None:
    assert refusal(text, reload) == (message, where)


@pytest.mark.parametrize("reload", MODES, ids=MODE_IDS)
def test_explicit_tags_that_fit(reload: Callable[[], bytes] | None) -> None:
    text = ("a: !!float 1\nb: !!int 0x10\nc: !!bool FALSE\nd: !!null ''\ne: !!null ~\nf: !!str ''\n"
            "g: !!seq [1]\nh: !!map {x: 1}\ni: !delete\nj: !delete ~\nk: !delete null\nl: !!str 1.0\n"
            "m: !replace [1]\nn: !append [2]\no: !prepend [3]\np: !!float -2.5e1\n")
    data = load_yaml(text.encode(), "f.yaml", reload=reload).data
    assert data == {"a": 1.0, "b": 16, "c": False, "d": None, "e": None, "f": "", "g": [1], "h": {"x": 1},
                    "i": DELETE, "j": DELETE, "k": DELETE, "l": "1.0", "m": Replace([1]), "n": Append((2,)),
                    "o": Prepend((3,)), "p": -25.0}
    assert type(data["a"]) is float and type(data["b"]) is int and type(data["l"]) is str


@pytest.mark.parametrize("reload", MODES, ids=MODE_IDS)
@pytest.mark.parametrize(
    ("text", "message", "where"),
    [
        ("a: 1\n!!str [x]: 1\n", "mapping keys must be scalars", "f.yaml:2:1"),
        ("a: 1\n? {x: 1}\n: 1\n", "mapping keys must be scalars", "f.yaml:2:3"),
        ("a: 1\n~: 1\n", "mapping key is null", "f.yaml:2:1"),
        ("a: 1\nnull: 1\n", "mapping key is null", "f.yaml:2:1"),
        ("a: 1\nb: {Null: 1}\n", "mapping key is null", "f.yaml:2:5"),
        ("a: 1\n!!merge x: 1\n", "YAML merge keys (<<) are not supported; use $extends or layers", "f.yaml:2:1"),
        ("a: 1\n<<: {b: 1}\n", "YAML merge keys (<<) are not supported; use $extends or layers", "f.yaml:2:1"),
        ("a: 1\nb: 2\n'a': 3\n", "duplicate key 'a' (first defined at line 1)", "f.yaml:3:1"),
        ("x: 0\nm:\n  a: 1\n  b: 2\n  a: 3\n", "duplicate key 'a' (first defined at line 3)", "f.yaml:5:3"),
        ("a: !x 1\nb: 2\na: 3\n", f"unknown tag !x {KNOWN}", "f.yaml:1:4"),  # the first problem wins
    ],
)
def test_key_checks_are_the_same_with_and_without_marks(
    text: str, message: str, where: str, reload: Callable[[], bytes] | None
) -> None:
    assert refusal(text, reload) == (message, where)


@pytest.mark.parametrize("reload", MODES, ids=MODE_IDS)
def test_keys_that_only_look_odd_are_kept(reload: Callable[[], bytes] | None) -> None:
    text = "'<<': 1\n! ~: 2\n'null': 3\n!!str x: 4\n!x y: 5\n'': 6\n!!int 7: 7\n"
    data = load_yaml(text.encode(), "f.yaml", reload=reload).data
    assert data == {"<<": 1, "~": 2, "null": 3, "x": 4, "y": 5, "": 6, "7": 7}


def test_without_marks_the_values_are_the_same_and_marks_come_from_the_reload() -> None:
    text = b"a: !replace {x: 1}\nb:\n  - 1\n  - c: 2\n"
    reads: list[int] = []

    def reload() -> bytes:
        reads.append(1)
        return text

    doc = load_yaml(text, "f.yaml", reload=reload)
    assert doc.data == load_yaml(text, "f.yaml").data and reads == []
    assert str(doc.location(("b", 1, "c"))) == "f.yaml:4:5" and reads == [1]
    assert doc.marks[("a",)] == (1, 1) and doc.marks[("b", 0)] == (3, 5) and reads == [1]  # read once


def test_a_document_without_marks_or_reload_answers_the_first_line() -> None:
    doc = Document("f.yaml", {"a": 1})
    assert doc.marks == {(): (1, 1)} and str(doc.location(("a",))) == "f.yaml:1:1"


@pytest.mark.parametrize("reload", MODES, ids=MODE_IDS)
def test_an_empty_document(reload: Callable[[], bytes] | None) -> None:
    doc = load_yaml(b"# nothing\n", "f.yaml", reload=reload)
    assert doc.data is None and doc.marks == {(): (1, 1)} and str(doc.location(("a",))) == "f.yaml:1:1"


def test_marks_of_nested_lists_and_keys() -> None:
    doc = load_yaml(b"a:\n- - x\n  - {k: [y, z]}\n", "f.yaml")
    assert doc.marks == {(): (1, 1), ("a",): (1, 1), ("a", 0): (2, 3), ("a", 0, 0): (2, 5),
                         ("a", 0, 1): (3, 5), ("a", 0, 1, "k"): (3, 6), ("a", 0, 1, "k", 0): (3, 10),
                         ("a", 0, 1, "k", 1): (3, 13)}


def test_without_libyaml_the_python_parser_gives_the_same_document(monkeypatch: pytest.MonkeyPatch) -> None:
    from cfgc.base import yaml_compose

    text = b"a: &x {k: [1, '2', yes]}\nb: *x\nc: !append [3]\n"
    want, bad = load_yaml(text, "f.yaml"), refusal("a: 1\nb: [1\n")
    monkeypatch.setattr(yaml_compose, "Loader", yaml_compose._PyLoader)
    got = load_yaml(text, "f.yaml")
    assert got.data == want.data and got.marks == want.marks
    assert refusal("a: 1\nb: [1\n") == bad


@pytest.mark.parametrize("reload", MODES, ids=MODE_IDS)
@pytest.mark.parametrize("text", ["a: &x [1, *x]\n", "b: 1\na: &x {k: [2, *x]}\n"])
def test_an_alias_inside_its_own_anchor_is_refused(text: str, reload: Callable[[], bytes] | None) -> None:
    line = text.count("\n")
    assert refusal(text, reload) == ("recursive alias (a collection that contains itself)", f"f.yaml:{line}:4")


def test_an_alias_used_twice_is_not_a_cycle() -> None:
    doc = load_yaml(b"a: &x [1]\nb: [*x, *x]\nc: {d: *x}\n", "f.yaml")
    assert doc.data == {"a": [1], "b": [[1], [1]], "c": {"d": [1]}}


@pytest.mark.parametrize(
    ("raw", "byte", "where"), [(b"caf\xe9: 1\n", "e9", "f.yaml:1:4"), (b"a: ok\nbc: \xff\n", "ff", "f.yaml:2:5")]
)
def test_invalid_utf8_names_the_byte_and_its_place(raw: bytes, byte: str, where: str) -> None:
    with pytest.raises(InputError) as info:
        load_yaml(raw, "f.yaml")
    assert (info.value.message, str(info.value.location)) == (f"file is not valid UTF-8 (byte 0x{byte})", where)


def _nested(levels: int, pad: bool) -> str:
    """``a:`` then ``levels - 1`` nested flow lists, many sibling lists, and (``pad``) a line
    long enough that the nesting guard scans the events before anything composes them."""
    text = "a: " + "[" * (levels - 1) + "1" + "]" * (levels - 1) + "\nb: [" + "[1], " * 30 + "[2]]\n"
    return text + ("# " + "x" * 2100 + "\n" if pad else "")


@pytest.mark.parametrize("reload", MODES, ids=MODE_IDS)
@pytest.mark.parametrize("pad", [False, True], ids=["unscanned", "scanned"])
def test_nesting_up_to_the_limit_loads_and_one_more_level_is_refused(
    reload: Callable[[], bytes] | None, pad: bool
) -> None:
    data = load_yaml(_nested(MAX_DEPTH, pad).encode(), "f.yaml", reload=reload).data
    inner = data["a"]
    for _ in range(MAX_DEPTH - 2):
        inner = inner[0]
    assert inner == [1] and len(data["b"]) == 31
    assert refusal(_nested(MAX_DEPTH + 1, pad), reload) == (
        f"nesting deeper than {MAX_DEPTH} levels", f"f.yaml:1:{3 + MAX_DEPTH}")


def test_deep_nesting_is_refused_before_anything_composes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from cfgc.base import loading

    def never(text: str, path: str) -> None:
        raise AssertionError("composed")

    monkeypatch.setattr(loading, "compose", never)
    for text in ("[" * 3000, _nested(MAX_DEPTH + 1, pad=True), "{a: " * 2500):
        with pytest.raises(InputError, match=f"nesting deeper than {MAX_DEPTH} levels"):
            load_yaml(text.encode(), "f.yaml")


@pytest.mark.parametrize("text", ["a: [1, 2\n# " + "x" * 2100 + "\n", "a: {b: [1\n# " + "x" * 2100 + "\n"])
def test_a_syntax_error_met_by_the_nesting_guard_is_worded_by_cfgc(text: str) -> None:
    message, where = refusal(text)
    assert message.startswith("invalid YAML: ") and where.startswith("f.yaml:")


def test_an_ordinary_file_takes_the_fast_path_and_reads_its_marks_later() -> None:
    text = b"a: 1\nb:\n  c: [x, '{{ y }}']\n"
    reads: list[int] = []

    def reload() -> bytes:
        reads.append(1)
        return text

    doc = load_yaml(text, "f.yaml", reload=reload)
    assert doc.data == {"a": 1, "b": {"c": ["x", "{{ y }}"]}} and doc.features == {"template"}
    assert reads == [] and doc.reload is reload
    assert str(doc.location(("b", "c", 1))) == "f.yaml:3:10" and reads == [1]


@pytest.mark.parametrize("reload", MODES, ids=MODE_IDS)
def test_an_empty_collection_counts_as_a_level(reload: Callable[[], bytes] | None) -> None:
    # The mapping and 64 lists: 65 levels, though no scalar sits at the bottom.
    text = "a: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "\n"
    assert refusal(text, reload) == (f"nesting deeper than {MAX_DEPTH} levels", f"f.yaml:1:{3 + MAX_DEPTH}")
    assert load_yaml(text.replace("[]", "1").encode(), "f.yaml", reload=reload).data["a"] is not None
