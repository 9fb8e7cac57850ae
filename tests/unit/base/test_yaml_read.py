"""Reading a YAML file's text (cfgc.base.yaml_read): the UTF-8 place of a bad byte, the
nesting guard on its own, and how a refusal only libyaml makes is worded and placed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml

from cfgc.base.errors import InputError
from cfgc.base.loading import MAX_DEPTH, load_yaml
from cfgc.base.yaml_read import decode, diagnose, guard_depth

# A line long enough that the guard scans the events of any text carrying it.
PAD = "# " + "x" * 2100 + "\n"
LIST_OPEN = "invalid YAML: a '[' list is not closed, or an item lacks a ','"


def refused(fn: Callable[..., object], *args: object) -> tuple[str, str]:
    with pytest.raises(InputError) as info:
        fn(*args)
    return info.value.message, str(info.value.location)


def test_a_bad_byte_after_several_lines_is_placed_on_its_own_line() -> None:
    raw = b"a: 1\nb: 2\ncd: \xfe\n"
    assert refused(decode, raw, "f.yaml") == ("file is not valid UTF-8 (byte 0xfe)", "f.yaml:3:5")


@pytest.mark.parametrize("opener", ["[\n", "{a:\n"], ids=["lists", "mappings"])
def test_deep_flow_nesting_over_short_lines_is_refused_by_the_guard(opener: str) -> None:
    # No line is long: the brackets alone must send the text to the event scan.
    text = opener * 3000
    message, where = refused(guard_depth, text, "f.yaml")
    assert message == f"nesting deeper than {MAX_DEPTH} levels" and where.startswith("f.yaml:")


def test_closed_collections_before_a_deep_one_do_not_hide_its_depth() -> None:
    # In the list that holds the deep one, siblings closed three and four levels down;
    # then lists inside the mapping and that list: 65 levels in all with 63 of them.
    head = "x: [[[1], [2]], [[[3]]]]\na: [[1], [[2]], "

    def text(inner: int) -> str:
        return head + "[" * inner + "1" + "]" * inner + "]\n" + PAD

    column = len(head.splitlines()[-1]) + MAX_DEPTH - 1
    assert refused(guard_depth, text(MAX_DEPTH - 1), "f.yaml") == (
        f"nesting deeper than {MAX_DEPTH} levels", f"f.yaml:2:{column}")
    guard_depth(text(MAX_DEPTH - 2), "f.yaml")  # one level less is within the limit


def test_the_guard_works_without_libyaml(monkeypatch: pytest.MonkeyPatch) -> None:
    # PyYAML built without libyaml has no CSafeLoader.
    monkeypatch.delattr(yaml, "CSafeLoader", raising=False)
    assert refused(guard_depth, "[" * 3000, "f.yaml")[0] == f"nesting deeper than {MAX_DEPTH} levels"
    guard_depth("a: [1]\n" + PAD, "f.yaml")


class _PickyParser(yaml.SafeLoader):
    """Stands in for a libyaml release that refuses text PyYAML's own parser accepts."""

    def check_event(self, *choices: Any) -> bool:
        mark = yaml.Mark("<x>", 0, 1, 2, None, 0)
        raise yaml.parser.ParserError("while parsing a flow sequence", mark, "expected ',' or ']', but got '?'", mark)


def test_a_refusal_only_libyaml_makes_during_the_guard_is_worded_by_cfgc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yaml, "CSafeLoader", _PickyParser, raising=False)
    message, where = refused(guard_depth, "a: 1\nb: [2]\n" + PAD, "f.yaml")
    assert where == "f.yaml:2:3"  # libyaml's 0-based mark, in the file
    assert message == LIST_OPEN


def test_diagnose_words_and_places_libyamls_error_when_the_text_reads_fine_again() -> None:
    text = "a: 1\nb: [2]\n"
    mark = yaml.Mark("<x>", 0, 1, 2, None, 0)
    err = yaml.parser.ParserError("while parsing a flow sequence", mark, "expected ',' or ']', but got '?'", mark)
    again = diagnose(text, "f.yaml", err)
    assert str(again.location) == "f.yaml:2:3"
    assert again.message == LIST_OPEN


def test_diagnose_of_an_unplaced_libyaml_error_names_the_file() -> None:
    text = "a: 1\n"
    unmarked = diagnose(text, "f.yaml", yaml.parser.ParserError(None, None, "stream ended"))
    assert unmarked.message.startswith("invalid YAML: ") and str(unmarked.location) == "f.yaml"
    other = diagnose(text, "f.yaml", yaml.YAMLError("something libyaml says"))
    assert (other.message, str(other.location)) == ("invalid YAML", "f.yaml")


@pytest.mark.parametrize(
    ("text", "where"),
    [("a: [1\n\n", "f.yaml:1:6"), ("b: 1\na: [1\n\n", "f.yaml:2:6"), ("a: [1\n\n\n", "f.yaml:1:6")],
)
def test_an_error_at_the_end_points_after_the_last_non_blank_line(text: str, where: str) -> None:
    message, place = refused(load_yaml, text.encode(), "f.yaml")
    assert message.startswith("invalid YAML: ") and place == where
