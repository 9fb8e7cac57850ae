"""Tagged files on the fast path: the same values, errors and locations as the careful loader."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cfgc.base import yaml_fast
from cfgc.base.loading import MAX_DEPTH, load_yaml
from cfgc.base.tags import DELETE, Append, PromptRef
from tests.unit.base.test_yaml_fast_differential import ROOT, assert_same, exact, yaml_files

pytestmark = pytest.mark.skipif(not yaml_fast.AVAILABLE, reason="yaml-rs is not installed")


def fast(text: str) -> object:
    return yaml_fast.fast_value(text, MAX_DEPTH, "f.yaml")


def assert_agrees(text: str) -> object:
    """Both loaders give the same outcome; where the fast path answers, the careful one's value."""
    assert_same(text.encode())
    got = fast(text)
    if got is not yaml_fast.MISS:
        assert exact(got) == exact(load_yaml(text.encode(), "f.yaml").data), text
    return got


TAKEN = [
    "a: !delete\n",
    "a: !delete # gone\nb: 1\n",
    "a: !append [1, x]\n",
    "a:\n  b: !prepend [x]\n  c: !replace {k: 1}\n",
    "a: !replace [1]\n",
    "a: !append\n- 1\n- 2\n",
    "a: !append\n  - 1\n",
    "p: !prompt chat@^1.0\n",
    "p: !prompt   chat@>=1.0 <2.0   # pinned\n",
    "p: !prompt 'chat@1.x'\n",
    "p: !prompt\n  chat@1.x\n",
    "a:\n  b:\n    c: !append [x] # c\n",
    "k-1: !delete\n_x: !delete\n",
]

DECLINED_OR_REFUSED = [
    # a flow collection over several lines goes to libyaml: yaml-rs folds a plain
    # scalar broken across them, and a mark can land inside a multi-line quoted key
    "a: [\n  b: !delete\n]\n", "a: {\n  b: !delete\n  }\n", "a: {x\n  b: 1}\n", "a: {x\n  b: !delete\n}\n",
    "a: {x\n  b: !append [1]\n}\n", '{"x\n  b: !append ": 1}\n', '{"x\n  b: !delete\n  ": 1}\n',
    "a: 1\na: !delete\n", "a: !delete\na: 1\n", "a: !delete\nb:\n  a: !delete\nb: 2\n",
    "a: !delete x\n", "a: !delete ~\n", "a: !delete Null\n", "a: !delete\n  Null\n", "a: !delete\n\n  # c\n  null\n",
    "a: !delete\n  b: 1\n", "a: !delete\n- 1\n", "a: !delete []\n",
    "a: !append {k: 1}\n", "a: !append x\n", "a: !append\n", "a: !prepend\n  k: 1\n",
    "a: !replace x\n", "a: !replace\n",
    "p: !prompt 12\n", "p: !prompt null\n", "p: !prompt nope\n", "p: !prompt [a@1]\n", "p: !prompt ''\n",
    "null: !delete\n", "true: !append [1]\n", "Null: !delete\n",
    "- a: !delete\n", "{a: !delete}\n", "a: [!delete]\n", "a:  !delete\n", "a : !delete\n",
    "a: !appendx [1]\n", "a: !foo [1]\n", "a: !!str 1\n", "a: !delete\nb: hello!\n", "a: &x !delete\n",
    "a: \"x\n  b: !delete\n  y\"\n", "a: 'x\n  b: !delete\n  y'\n", "a: x\n  b: !delete\n",
    "a: !delete\nb~cfgc-tag~delete~1~4: 1\n", "a: [\n  b: !delete\n  Null\n]\n", "a: {\n  b: !delete\n  NULL\n  }\n",
    "a: [\n  b: !delete\nNull]\n", "a: {\n  b: !delete,\n  c: !append [1]\n  }\n", "a:\n  b: !append [1]\n c: 2\n",
]


@pytest.mark.parametrize("text", TAKEN)
def test_common_tags_take_the_fast_path_with_the_careful_values(text: str) -> None:
    assert assert_agrees(text) is not yaml_fast.MISS


@pytest.mark.parametrize("text", DECLINED_OR_REFUSED)
def test_every_other_form_agrees_with_the_careful_loader(text: str) -> None:
    assert_agrees(text)


def test_a_prompt_reference_carries_its_tags_location() -> None:
    got = fast("a:\n  b: 1\n  p: !prompt chat@^1.0\n")
    assert isinstance(got, dict)
    assert got["a"]["p"] == PromptRef("chat", "^1.0", got["a"]["p"].location)
    assert str(got["a"]["p"].location) == "f.yaml:3:6"
    assert fast("a: !delete\nb: !append [1]\n") == {"a": DELETE, "b": Append((1,))}


def test_generated_service_files_take_the_fast_path(tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    args = [sys.executable, str(ROOT / "benchmarks" / "corpus.py"), "--targets", "40", "--seed", "3", str(out)]
    subprocess.run(args, check=True, capture_output=True)
    files = yaml_files(out)
    for p in files:
        assert_agrees(p.read_text())
    # Every target has a service file of its own: those, tags and all, must be fast.
    services = [p for p in files if "services" in p.parts]
    assert sum(b"!" in p.read_bytes() for p in services) > len(services) // 2
    for p in services:
        assert fast(p.read_text()) is not yaml_fast.MISS, p


_KEYS = st.sampled_from(["a", "b", "k-1", "null", "True", "x_y"])
_TAILS = st.sampled_from(
    ["", " # c", " [1, x]", " []", " [a, {k: v}]", " {k: 1}", " x@1.0", " 'y@^2'", " 12", " null", " ~",
     " bad", "  x", " x@1 # c", " x@>=1 <2", " Null", " NULL # c"]
)
_TAGS = st.sampled_from(["!delete", "!append", "!prepend", "!replace", "!prompt", "!foo", "!!str", "!"])
_SCALARS = st.sampled_from(["1", "x", "'q'", "\"multi\n  b: !delete\n  line\"", "hi!", "[1, 2]", "Null"])


@dataclasses.dataclass(frozen=True)
class Alphabet:
    """What generated tagged YAML is made of (keys, scalars, tags and what follows a tag)."""

    keys: st.SearchStrategy[str]
    scalars: st.SearchStrategy[str]
    tags: st.SearchStrategy[str]
    tails: st.SearchStrategy[str]
    most: int = 3  # entries per mapping
    # After a tag's line: nothing, a block, a sequence or a continuation line.
    follows: tuple[str, ...] = ("", "", "block", "seq", "more")
    seq_head: str | None = "1"  # the sequence's first item (None: a drawn scalar)


def tagged_block(a: Alphabet, indent: int = 0, depth: int = 0) -> st.SearchStrategy[list[str]]:
    """Lines of a block mapping with cfgc's tags in every position the alphabet allows."""

    @st.composite
    def block(draw: st.DrawFn, indent: int, depth: int) -> list[str]:
        lines: list[str] = []
        pad = " " * indent
        for _ in range(draw(st.integers(1, a.most))):
            key = draw(a.keys)
            kind = draw(st.sampled_from(["scalar", "tag", "tag", "nested", "seq"] if depth < 3 else ["scalar", "tag"]))
            if kind == "scalar":
                lines.append(f"{pad}{key}: {draw(a.scalars)}")
            elif kind == "tag":
                lines.append(f"{pad}{key}: {draw(a.tags)}{draw(a.tails)}")
                follow = draw(st.sampled_from(a.follows))
                if follow == "block":
                    lines += draw(block(indent + 2, depth + 1))
                elif follow == "seq":
                    head = a.seq_head if a.seq_head is not None else draw(a.scalars)
                    lines += [f"{pad}- {head}", f"{pad}- {draw(a.scalars)}"]
                elif follow == "more":
                    lines.append(f"{pad}  {draw(a.scalars)}")
            elif kind == "nested":
                lines.append(f"{pad}{key}:")
                lines += draw(block(indent + 2, depth + 1))
            else:
                lines.append(f"{pad}{key}:")
                item = draw(block(indent + 4, depth + 1))
                lines.append(f"{pad}  - {item[0].lstrip()}")
                lines += item[1:]
        return lines

    return block(indent, depth)


def _block(indent: int, depth: int) -> st.SearchStrategy[list[str]]:
    return tagged_block(Alphabet(_KEYS, _SCALARS, _TAGS, _TAILS), indent, depth)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_block(0, 0))
def test_generated_tagged_files_load_the_same_either_way(lines: list[str]) -> None:
    assert_agrees("\n".join(lines) + "\n")


def test_a_tag_line_inside_a_quoted_document_is_the_careful_loaders() -> None:
    # The whole document is one quoted scalar: restoring tags used to fail
    # on it (AttributeError, exit 3); now the careful loader reads the string.
    raw = b'"x\n  b: !delete\n  y"\n'
    assert fast(raw.decode()) is yaml_fast.MISS
    assert load_yaml(raw, "f.yaml", reload=lambda: raw).data == load_yaml(raw, "f.yaml").data == "x b: !delete y"


NESTED = [
    "a: !replace\n  b: !append [1]\n  c:\n    d: !delete\n",
    "a:\n  - e: 2\n    b: !append [1]\n  - f: 1\n    c: !prompt x@1\n",
    "a: !append\n  - e: 1\n    b: !delete\n  - c:\n      d: !prepend [y]\n",
    "x:\n  y:\n    z: !replace\n      w: !replace\n        v: !delete\n  u: !append [1]\nt: !delete\n",
]


@pytest.mark.parametrize("text", NESTED)
def test_tags_inside_tagged_values_and_lists_take_the_fast_path(text: str) -> None:
    # untag rebuilds only the mappings the value check listed, children first:
    # a tagged value that holds tagged mappings must hold the restored ones.
    assert assert_agrees(text) is not yaml_fast.MISS


def test_prompt_locations_count_the_lines_of_every_tag_before_them() -> None:
    # Lines are counted only up to each !prompt tag: the tags and text between
    # two of them still count.
    text = "a: !delete\nb: !append [1]\np: !prompt chat@1\n\nc:\n  d: !replace [2]\n  q: !prompt x@2\nr: !prompt y@3\n"
    got = fast(text)
    assert isinstance(got, dict)
    assert [str(got["p"].location), str(got["c"]["q"].location), str(got["r"].location)] == [
        "f.yaml:3:4", "f.yaml:7:6", "f.yaml:8:4"
    ]
    assert_agrees(text)


@pytest.mark.parametrize(
    "key",
    ["b~cfgc-tag~0", "a~cfgc-tag~1", "a~cfgc-tag~", "a~cfgc-tag~-0", "a~cfgc-tag~0 x", "x a~cfgc-tag~0",
     "a~cfgc-tag~\u0660", "a~cfgc-tag~" + "0" * 5000, "a~cfgc-tag~0~cfgc-tag~0"],
)
def test_a_marked_key_rewrite_tags_did_not_write_is_declined(key: str) -> None:
    # Only the exact key of the tag its index names is restored: anything else
    # (another key, an index out of range or not ASCII digits, one too long to
    # parse, a mark inside a longer key) is the careful loader's.
    from cfgc.base import yaml_fast_tags

    value = {key: [1]}
    assert yaml_fast_tags.untag(value, [(0, 4, "append", "a")], "f.yaml", [(value, ())]) is None


def test_each_marked_key_is_restored_once() -> None:
    from cfgc.base import yaml_fast_tags

    inner = {"a~cfgc-tag~0": [1]}
    value = {"x": inner, "y": {"a~cfgc-tag~0": [2]}}
    marked = [(inner, ("x",)), (value["y"], ("y",))]
    # One tag, so the count of restored tags matches: only the once-each check can decline.
    tags = [(0, 4, "append", "a")]
    assert yaml_fast_tags.untag(value, tags, "f.yaml", marked) is None


def test_every_tag_of_a_file_within_the_size_limit_has_an_index_that_is_restored() -> None:
    from cfgc.base import limits, yaml_fast_tags

    # The shortest tag line is "a: !delete" and a newline: no file within the limit holds more tags.
    most = limits.MAX_FILE_BYTES // len("a: !delete\n")
    assert len(str(most)) <= yaml_fast_tags._INDEX_DIGITS  # noqa: SLF001
