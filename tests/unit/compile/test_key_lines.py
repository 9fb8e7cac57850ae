"""Differential: where :func:`key_line` answers, it gives the mark the careful
loader records for that key path (``Document.marks``), over the repo's YAML
files, generated corpora, tricky documents and generated ones (emitted by
PyYAML in block style, and hand-written lines in any order and indentation)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cfgc.base.errors import CfgcError
from cfgc.base.loading import load_yaml
from cfgc.compile.key_lines import key_line

ROOT = Path(__file__).resolve().parents[3]


def agree(text: str) -> tuple[int, int]:
    """(paths asked, paths answered); asserts every answer is the careful mark."""
    try:
        marks = load_yaml(text, "f.yaml").marks
    except CfgcError:
        return 0, 0
    asked = answered = 0
    for path, mark in marks.items():
        got = key_line(text, path)
        asked += 1
        if got is not None:
            answered += 1
            assert got == mark, (path, text[:400])
        assert key_line(text, (*path, "no-such-key")) is None
    return asked, answered


def yaml_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def test_the_repos_yaml_files_agree() -> None:
    answered = 0
    for p in yaml_files(ROOT / "tests") + yaml_files(ROOT / "examples"):
        try:
            text = p.read_text("utf-8")
        except UnicodeDecodeError:
            continue
        answered += agree(text)[1]
    assert answered > 100


@pytest.mark.parametrize("plain", [False, True])
def test_generated_corpora_agree(tmp_path: Path, plain: bool) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from corpus import generate
    finally:
        sys.path.pop(0)
    generate(tmp_path / "repo", 2, 2, 4, plain=plain, seed=3)
    asked = answered = 0
    for p in yaml_files(tmp_path / "repo"):
        a, b = agree(p.read_text("utf-8"))
        asked, answered = asked + a, answered + b
    assert 0 < answered < asked  # most keys answered, list items and the root left to the parser


TRICKY = [
    "a: 1\nb:\n  c: 2\n  d: [1, 2]\n",
    '"a": 1\nb: 2\n', "'a': 1\nb: 2\n", "a: 'it''s'\nb: 2\n", 'a: "x\n  b: 1"\nb: 2\n',
    "a: [1,\n  2]\nb: 1\n", "a: {x: 1,\nb: 2}\nc: 3\n", "a: |\n  b: 1\nb: 2\n", "a: >-\n  b: 1\nc: 2\n",
    "true: 1\nb: 2\n", "1: x\nb: 2\n", "null: 1\n", "~: 1\n", "a: 1\na: 2\n", "b:\n  a: 1\n  a: 2\n",
    "  a: 1\n  b:\n    c: 2\n", "---\na: 1\n", "%YAML 1.2\n---\na: 1\n", "a: 1\n...\n",
    "a: &x {b: 1}\nc: *x\n", "? a\n: 1\n", "a:\n- b: 1\n- c: 2\n", "a:\n  - b: 1\n", "a :\n  b: 1\n",
    "a:   \n   b: 1\n   c:\n     d: 2\n", "a:\n  b: 1\n # c: 2\n  c: 3\n", "a:\n    b: 1\n  c: 2\n",
    "a: !replace\n  b: 1\nc: !append [1]\nd: !delete\ne: !prompt p@1.x\n", "a:b: 1\nc: 2\n",
    "a: 1 # b: 2\nb: 3\n", "a:\tb\n", "a: 1\r\nb: 2\r\n", "\ufeffa: 1\n", "a: \\x\nb: 1\n",
    "$extends: x\nm.n: 1\nk-l: 2\n", 'm: {a: "x\n  c: 1", c: 2}\n', "m: {a: [x,\n  c: 1], c: 2}\n",
    "m: {a: 'x\n  c: 1', c: 2}\n", "m:\n  a: \"x\n  c: 1\"\n  c: 2\n", "m: &x\n  c: 1\nn: *x\n",
    "m:\n  a: |\n    c: 1\n  c: 2\n", "m: !replace\n  c: 1 # d: 2\n  d: 3\n", "a: 0x10\n0x10: 1\n", "yes: 1\nno: 2\non: 3\n", "a:\n  b:\n\n\n    c: 1\n",
]


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_documents_agree(text: str) -> None:
    agree(text)


_KEYS = st.sampled_from(["a", "b", "c", "$extends", "x.y", "k-1", "true", "1", "yes", "null", "a b", "é",
                         "'q'", '"q"', "-", "?", "#", "[x]", "{x}", "a:", ""])
_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.sampled_from(["x", "a: b", "[1]", "#c", "'"]))
_TREES = st.recursive(_LEAVES, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(_KEYS, kids, max_size=4),
                      max_leaves=15)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_KEYS, _TREES, min_size=1, max_size=4), st.sampled_from([2, 3, 4]), st.booleans())
def test_emitted_documents_agree(value: dict[str, Any], indent: int, flow: bool) -> None:
    agree(yaml.safe_dump(value, sort_keys=False, indent=indent, default_flow_style=None if flow else False,
                         allow_unicode=True))


_LINES = st.sampled_from([
    "a:", "a: 1", "b:", "b: 2", "c: [1,", "2]", "c: {x: 1}", "- x", "- a: 1", "'q': 1", '"q": 1', "q: 'x",
    "x'", '"y', "# a: 1", "a: |", "a: >", "true: 1", "1: 2", "k: !replace", "d: !delete", "? a", ": 1",
    "---", "...", "&n a: 1", "e: *n", "a : 1", "a:b", "", "f: a # b: 1", "g: !append [1, 2]",
])


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 6), _LINES), min_size=1, max_size=10))
@example([(0, "a:"), (2, "b: 1"), (2, "b: 2")])
@example([(0, "a:"), (4, "b: 1"), (2, "c: 2")])
@example([(0, "a:"), (2, "q: 'x"), (2, "x'"), (2, "b: 1")])
def test_hand_written_lines_agree(lines: list[tuple[int, str]]) -> None:
    agree("".join(" " * n + s + "\n" for n, s in lines))


# Escaped quotes and quoted brackets keep each line's counts even with a scalar or a flow
# collection still open: a key inside it must not be taken for a key of the block.
OPEN_ACROSS_LINES = [
    'a:\n  s: "q \\"\n  k: 1 \\" \\"\nb: 1 \\""\n  k: 3\n',
    "a:\n  s: 'q ''\n  k: 1 '' ''\nb: 1 '''\n  k: 3\n",
    'p:\n  a: ["]",\n  k: 1,\nz: "[" ]\n  k: 2\n',
    "p:\n  a: {x: '}',\n  k: 1,\nz: '{' }\n  k: 2\n",
]


@pytest.mark.parametrize("text", OPEN_ACROSS_LINES)
def test_scalars_open_across_lines_agree(text: str) -> None:
    agree(text)
