import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfgc.base.errors import InputError
from cfgc.base.loading import MAX_DEPTH, NumberError, load_yaml, resolve_plain
from cfgc.base.tags import DELETE, Append, Prepend, PromptRef, Replace


def load(text: str):
    return load_yaml(text.encode(), "f.yaml")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("yes", "yes"), ("NO", "NO"), ("off", "off"), ("on", "on"), ("y", "y"),
        ("true", True), ("False", False), ("TRUE", True),
        ("~", None), ("null", None), ("", None),
        ("42", 42), ("-7", -7), ("0o17", 15), ("0x1F", 31), ("017", 17),
        ("1.5", 1.5), ("1e3", 1000.0), (".5", 0.5),
        ("1_000", "1_000"), ("0b101", "0b101"), ("12:30", "12:30"),
        ("2026-01-01", "2026-01-01"),
    ],
)
def test_yaml_12_core_scalars(text: str, value: object) -> None:
    assert resolve_plain(text) == value
    assert type(resolve_plain(text)) is type(value)


@pytest.mark.parametrize("text", [".inf", "-.Inf", ".nan", "1e400", "-1e400"])
def test_special_floats_are_refused(text: str) -> None:
    # JSON cannot carry them: refused where they are written, not in the bundle writer.
    with pytest.raises(NumberError):
        resolve_plain(text)


def test_quoted_scalars_stay_strings() -> None:
    doc = load('a: "42"\nb: \'true\'\nc: !!str 7\n')
    assert doc.data == {"a": "42", "b": "true", "c": "7"}


def test_marks_are_one_based_and_cover_every_path() -> None:
    doc = load("top:\n  inner: 1\n  list:\n    - a\n    - {k: v}\n")
    assert doc.marks[("top",)] == (1, 1)
    assert doc.marks[("top", "inner")] == (2, 3)
    assert doc.marks[("top", "list", 0)] == (4, 7)
    assert doc.marks[("top", "list", 1, "k")] == (5, 8)
    assert str(doc.location(("top", "list", 1, "k"))) == "f.yaml:5:8"
    # an unknown path falls back to its nearest ancestor
    assert str(doc.location(("top", "nope", "deeper"))) == "f.yaml:1:1"


def test_tags_become_markers() -> None:
    doc = load(
        "a: !replace {x: 1}\nb: !delete\nc: !append [1, 2]\nd: !prepend [0]\ne: !prompt summarize@^1.2\n"
    )
    assert doc.data["a"] == Replace({"x": 1})
    assert doc.data["b"] is DELETE
    assert doc.data["c"] == Append((1, 2))
    assert doc.data["d"] == Prepend((0,))
    ref = doc.data["e"]
    assert isinstance(ref, PromptRef)
    assert (ref.name, ref.spec) == ("summarize", "^1.2")
    assert str(ref.location) == "f.yaml:5:4"


def test_non_string_keys_keep_their_text() -> None:
    assert load("200: ok\ntrue: x\n1.0: y\n").data == {"200": "ok", "true": "x", "1.0": "y"}


def test_aliases_expand() -> None:
    assert load("a: &x {k: 1}\nb: *x\n").data == {"a": {"k": 1}, "b": {"k": 1}}


def test_features_are_detected_from_text() -> None:
    assert load("a: 1\n").features == frozenset()
    assert load("a: !prompt x@1\nb: '{{ env }}'\nc: {$extends: a}\n").features == {"prompt", "template", "extends"}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["!", "!prompt", "prompt", "$", "$extends", "extends", "{", "{{", "{%", "%", "a", " "]),
                max_size=12).map("".join))
def test_features_are_the_words_of_the_text(text: str) -> None:
    # Each word looked for only where its first character is present: the same answer as looking for it.
    from cfgc.base.loading import _features

    words = {"prompt": "!prompt" in text, "extends": "$extends" in text, "template": "{{" in text or "{%" in text}
    assert _features(text) == {k for k, present in words.items() if present}


def test_empty_document_is_none() -> None:
    assert load("# only a comment\n").data is None


def _bomb(levels: int = 9) -> str:
    text = 'l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for i in range(1, levels):
        text += f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]\n"
    return text


@pytest.mark.parametrize(
    ("text", "where", "fragment"),
    [
        ("a: 1\nb: 2\na: 3\n", "f.yaml:3:1", "duplicate key 'a' (first defined at line 1)"),
        ("a:\n  b: !frobnicate 1\n", "f.yaml:2:6", "unknown tag !frobnicate"),
        ("a: !!binary aGk=\n", "f.yaml:1:4", "unknown tag !!binary"),
        ("a: [1, 2\nb: 3\n", "f.yaml:2:2", "invalid YAML"),
        ("a: 1\n---\nb: 2\n", "f.yaml:2:1", "more than one YAML document"),
        ("x: &x {a: 1}\ny:\n  <<: *x\n", "f.yaml:3:3", "merge keys"),
        ("a: !append {x: 1}\n", "f.yaml:1:4", "!append needs a list"),
        ("a: !delete yes\n", "f.yaml:1:4", "!delete takes no value"),
        ("a: !prompt nope\n", "f.yaml:1:4", "name@version-range"),
        ("a: !!int abc\n", "f.yaml:1:4", "not a valid !!int"),
        ("? [a]\n: 1\n", "f.yaml:1:3", "mapping keys must be scalars"),
        (_bomb(), "f.yaml:6:5", "alias bomb"),  # the innermost list past the limit
        ("[" * 100_000, "f.yaml:1:", f"nesting deeper than {MAX_DEPTH}"),
        ("a:\n" + "".join("  " * i + "- \n" for i in range(1, 80)), "f.yaml:", f"nesting deeper than {MAX_DEPTH}"),
    ],
    ids=["duplicate", "unknown-tag", "binary", "syntax", "multi-doc", "merge-key", "append-map",
         "delete-value", "prompt-syntax", "bad-int", "complex-key", "alias-bomb", "deep-flow", "deep-block"],
)
def test_bad_input_is_refused_with_location(text: str, where: str, fragment: str) -> None:
    with pytest.raises(InputError) as info:
        load(text)
    assert str(info.value.location).startswith(where)
    assert fragment in info.value.message


def test_non_utf8_points_at_the_byte() -> None:
    with pytest.raises(InputError) as info:
        load_yaml(b"a: ok\nb: caf\xe9\n", "f.yaml")
    assert str(info.value.location) == "f.yaml:2:7"
    assert "UTF-8" in info.value.message


def test_utf8_bom_is_accepted() -> None:
    assert load_yaml("\ufeffa: é\n".encode(), "f.yaml").data == {"a": "é"}


# Syntax errors that users make, with cfgc's own wording: the text must not
# depend on whether PyYAML was built with libyaml, nor on the libyaml release.
SYNTAX_CASES = [
    ("a: b: c\n", "f.yaml:1:5", "unexpected ':'"),
    ("a:\n\t- 1\n", "f.yaml:2:1", "a tab character here"),
    ("a: 'x\n", "f.yaml:1:6", "a quoted string is not closed"),
    ('a: "\\q"\n', "f.yaml:1:", "unknown escape sequence \\q"),
    ("a: *nope\n", "f.yaml:1:4", "undefined alias *nope"),
    ("a: &x 1\nb: &x 2\n", "f.yaml:2:4", "duplicate anchor &x"),
    ("a: 1\n- b\n", "f.yaml:2:1", "bad indentation"),
    ("a: {x: 1\n", "f.yaml:1:9", "a '{' mapping is not closed"),
    ("a: [1,,2]\n", "f.yaml:1:7", "a value is missing here"),
    ("  a: 1\nb: 2\n", "f.yaml:2:1", "bad indentation"),
    ("a: `b\n", "f.yaml:1:4", "character '`' cannot start a plain value"),
    ("a: &\n", "f.yaml:1:5", "an anchor needs a name"),
]


@pytest.mark.parametrize(("text", "where", "fragment"), SYNTAX_CASES)
def test_syntax_errors_use_cfgc_wording(text: str, where: str, fragment: str) -> None:
    with pytest.raises(InputError) as info:
        load(text)
    assert str(info.value.location).startswith(where)
    assert info.value.message.startswith("invalid YAML: ")
    assert fragment in info.value.message
    assert "parser:" not in info.value.message  # a known problem never falls back


@pytest.mark.parametrize(
    ("problem", "context"),
    [
        ("exceeded maximum nesting depth", "while increasing flow level"),
        ("some wording of a future libyaml", None),
    ],
)
def test_a_refusal_worded_by_libyaml_is_reworded_by_cfgc(
    monkeypatch: pytest.MonkeyPatch, problem: str, context: str | None
) -> None:
    """Whatever libyaml says (its limits and words change between releases), the
    user sees cfgc's message and cfgc's location."""
    import yaml

    from cfgc.base import yaml_compose

    def refuse(self: object) -> None:
        mark = yaml.Mark("<x>", 0, 0, 1002, None, None)
        raise yaml.scanner.ScannerError(context, mark, problem, mark)

    monkeypatch.setattr(yaml_compose.Loader, "get_single_node", refuse)
    with pytest.raises(InputError) as info:
        load("a: " + "[" * 70 + "]" * 70 + "\n")
    assert info.value.message == f"nesting deeper than {MAX_DEPTH} levels"
    assert str(info.value.location) == f"f.yaml:1:{3 + MAX_DEPTH}"  # the 65th collection
    with pytest.raises(InputError) as info:
        load("a: [1, 2\nb: 3\n")
    assert problem not in info.value.message
    assert info.value.message == "invalid YAML: a '[' list is not closed, or an item lacks a ','"
