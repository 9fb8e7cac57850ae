"""The yaml-rs fast path against the libyaml loader: same values, same errors,
same locations, over the test data, the example repo, generated corpora and
generated YAML.

``load_yaml(raw, path)`` (no ``reload``) always takes the careful libyaml path,
with marks; ``load_yaml(raw, path, reload=...)`` takes the fast path when it
accepts the file.  Values are compared with their exact types (``1`` vs ``1.0``
vs ``True``, ``-0.0``) and key order.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cfgc.base import yaml_fast
from cfgc.base.errors import InputError
from cfgc.base.loading import MAX_DEPTH, load_yaml
from tests.unit.base.test_yaml_core_schema import CORE

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.skipif(not yaml_fast.AVAILABLE, reason="yaml-rs is not installed")


def exact(v: Any) -> Any:
    """``v`` as nested tuples that differ whenever type, order or sign differ."""
    if isinstance(v, dict):
        return ("map", tuple((exact(k), exact(x)) for k, x in v.items()))
    if isinstance(v, list | tuple):
        return (type(v).__name__, tuple(exact(x) for x in v))
    if isinstance(v, float):
        return ("float", repr(v), math.copysign(1.0, v))
    if hasattr(v, "__dataclass_fields__"):
        return (type(v).__name__, exact(vars(v)))
    return (type(v).__name__, v if isinstance(v, str | int | bool | type(None)) else repr(v))


def outcome(raw: bytes, path: str, fast: bool) -> tuple[str, Any]:
    try:
        doc = load_yaml(raw, path, reload=(lambda: raw) if fast else None)
    except InputError as e:
        return ("error", (e.message, str(e.location)))
    marks = sorted(doc.marks.items(), key=repr)  # a fast document re-reads for marks
    return ("value", (exact(doc.data), marks))


def assert_same(raw: bytes, path: str = "f.yaml") -> None:
    assert outcome(raw, path, fast=True) == outcome(raw, path, fast=False), raw[:400]


def assert_fast_agrees(text: str) -> None:
    """Where the fast path answers, the careful one answers the same value."""
    got = yaml_fast.fast_value(text, MAX_DEPTH)
    if got is yaml_fast.MISS:
        return
    want = load_yaml(text.encode(), "f.yaml").data
    assert exact(got) == exact(want), text[:400]


def yaml_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


REPO_FILES = yaml_files(ROOT / "tests") + yaml_files(ROOT / "examples")


@pytest.mark.parametrize("path", REPO_FILES, ids=[str(p.relative_to(ROOT)) for p in REPO_FILES])
def test_repo_yaml_files_load_the_same_either_way(path: Path) -> None:
    assert_same(path.read_bytes(), str(path.relative_to(ROOT)))


def test_most_example_layers_take_the_fast_path() -> None:
    # Guards against a prescan so strict the fast path never runs.
    texts = [p.read_bytes().decode("utf-8-sig", "replace") for p in REPO_FILES]
    fast = [t for t in texts if yaml_fast.fast_value(t, MAX_DEPTH) is not yaml_fast.MISS]
    assert len(fast) > len(texts) // 3


@pytest.mark.parametrize("plain", [True, False])
def test_generated_corpus_loads_the_same_either_way(tmp_path: Path, plain: bool) -> None:
    out = tmp_path / "corpus"
    args = [sys.executable, str(ROOT / "benchmarks" / "corpus.py"), "--targets", "60", "--seed", "7", str(out)]
    subprocess.run(args + (["--plain"] if plain else []), check=True, capture_output=True)
    files = yaml_files(out)
    assert files
    for path in files:
        assert_same(path.read_bytes(), str(path.relative_to(out)))


TRICKY = [
    "", "# only a comment\n", "~\n", "a\n", "- 1\n- 2\n", "---\na: 1\n", "--- a\n", "a: 1\n...\n",
    "a: 1\n---\nb: 2\n", "%YAML 1.2\n---\na: 1\n", "a: 1\na: 2\n", "a: 1\n'a': 2\n", "? a\n: 1\n",
    "? [a]\n: 1\n", "null: 1\n", "~: 1\n", ": 1\n", "'': 1\n", "'null': 1\n", "<<: {a: 1}\n", "'<<': 1\n",
    "1: a\n", "true: a\n", "0x1F: a\n", "1.5: a\n", "a: &x 1\nb: *x\n", "a: !delete\n", "a: ! 12\n",
    "a: !append [1]\n", "a: !!str 1\n", "a: !!int '1'\n", "a: [1, 2\n", "a:\n  - b\n  c\n", "a:\tb\n",
    "a:\n\t- b\n", "a: 1\r\nb: 2\r\n", "a: \"\\x01\"\n", "a: \"\x01\"\n", "a: b\x85c\n", "a: b\u2028c\n",
    "\ufeffa: 1\n", "a: \ufeff\n", "a: \"\\ud83d\\ude00\"\n", "a: \"\\N\\_\\L\\P\"\n", "a: 'it''s'\n",
    "a: >\n  x\n\n  y\n", "a: |+\n  x\n\n", "a: |2-\n   x\n", "a: \"multi\n  line\"\n", "a: plain\n  more\n",
    "a: 1 # c\n", "a: '#'\n", "{\"a\":1, \"b\":[true,null]}\n", "[1, {a: b}, [c]]\n",
    "a: 9223372036854775807\n", "a: 9223372036854775808\n", "a: -9223372036854775809\n", "a: 1e400\n",
    "a: " + "9" * 5000 + "\n", "a: .inf\n", "a: -.Inf\n", "a: .NaN\n", "a: -0.0\n", "a: 0.1e-400\n",
    "a: 2024-01-01\n", "a: 2024-01-01T10:00:00Z\n", "a: 12:30:45\n", "a: 1_000\n", "k_1: v_2\n",
    "a: 0b101\n", "a: -0x1F\n", "a: +0o17\n", "a: llama-70b\n", "a: x-0x1\n", "a: [0x1, -0o7, 0b1]\n",
    "[" * 70 + "]" * 70 + "\n", "a:\n" + "".join("  " * i + "- \n" for i in range(1, 80)),
    "".join("  " * i + f"k{i}:\n" for i in range(63)) + "  " * 63 + "x: 1\n",
    "".join("  " * i + f"k{i}:\n" for i in range(64)) + "  " * 64 + "x: 1\n",
]


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_documents_load_the_same_either_way(text: str) -> None:
    assert_same(text.encode())
    assert_fast_agrees(text)


@pytest.mark.parametrize(("scalar", "_value"), CORE)
def test_core_schema_table_loads_the_same_either_way(scalar: str, _value: object) -> None:
    for text in (f"k: {scalar}\n", f"- {scalar}\n", f"k: [{scalar}, x]\n", f"{scalar}: v\n", f"{{k: {scalar}}}\n"):
        assert_same(text.encode())


def test_bad_utf8_is_the_same_error_either_way() -> None:
    assert_same(b"a: 1\nb: \xff\n")


# Pieces of plain scalars: number syntax, the core-schema words, YAML indicators.
_PIECES = st.sampled_from(
    [*"0123456789_.+-eExXoObBaAfF:#,[]{}'\"&*!?|>%@` ~\t\\", "inf", "Inf", "nan", "NaN", "true", "False",
     "null", "NULL", "yes", "on", "0x", "0o", "0b", "1_0", ".inf", "-0", "T10:00", "2024-01-01", " #", ": ",
     "\x85", "\u2028", "\ufeff", "é", "\U0001f600", "\r", "\x7f", "\x00"]
)
_TOKENS = st.one_of(
    st.lists(_PIECES, min_size=1, max_size=6).map("".join), st.sampled_from([s for s, _ in CORE if s])
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_TOKENS, _TOKENS), min_size=1, max_size=5), st.sampled_from(["block", "flow", "seq"]))
@example([("a", "1_000")], "block")
@example([("a", "-0x1")], "flow")
def test_hand_written_plain_scalars_load_the_same_either_way(pairs: list[tuple[str, str]], shape: str) -> None:
    if shape == "block":
        text = "".join(f"{k}: {v}\n" for k, v in pairs)
    elif shape == "flow":
        text = "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}\n"
    else:
        text = "".join(f"- {v}\n" for _, v in pairs)
    assert_same(text.encode("utf-8", "surrogatepass"))
    assert_fast_agrees(text)


_TEXT = st.lists(
    st.one_of(st.characters(codec="utf-8", exclude_categories=["Cs"]), _PIECES), max_size=12
).map("".join) | st.sampled_from([s for s, _ in CORE])
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=True, allow_infinity=True), _TEXT,
)
_VALUES = st.recursive(
    _SCALARS, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(_TEXT, kids, max_size=4), max_leaves=20
)
_DUMPS = st.sampled_from(
    [
        lambda v: yaml.safe_dump(v, sort_keys=False, allow_unicode=True),
        lambda v: yaml.safe_dump(v, sort_keys=False, default_flow_style=True),
        lambda v: yaml.safe_dump(v, sort_keys=False, default_style='"'),
        lambda v: yaml.safe_dump(v, sort_keys=False, default_style="'", allow_unicode=True),
        lambda v: yaml.safe_dump(v, sort_keys=False, default_style="|", allow_unicode=True),
        lambda v: yaml.safe_dump(v, sort_keys=False, default_style=">", width=20),
        lambda v: json.dumps(v, ensure_ascii=False),
        lambda v: json.dumps(v, indent=2),
    ]
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_VALUES, _DUMPS)
def test_emitted_values_load_the_same_either_way(value: Any, dump: Any) -> None:
    try:
        text = dump(value)
    except (ValueError, yaml.YAMLError):
        return
    assert_same(text.encode("utf-8", "surrogatepass"))
    assert_fast_agrees(text)


def test_an_ordinary_file_takes_the_fast_path_and_its_locations_the_careful_one() -> None:
    raw = b"a: 1\nb:\n  c: [x, 2.5]\n"
    doc = load_yaml(raw, "f.yaml", reload=lambda: raw)
    assert yaml_fast.fast_value(raw.decode(), MAX_DEPTH) == {"a": 1, "b": {"c": ["x", 2.5]}}
    assert doc._marks is None  # nothing composed with libyaml yet
    assert str(doc.location(("b", "c", 1))) == "f.yaml:3:10"


def test_without_yaml_rs_every_file_takes_the_libyaml_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yaml_fast, "yaml_rs", None)
    assert yaml_fast.fast_value("a: 1\n", MAX_DEPTH) is yaml_fast.MISS
    raw = b"a: 1\nb: [yes, 0o17]\n"
    assert load_yaml(raw, "f.yaml", reload=lambda: raw).data == {"a": 1, "b": ["yes", 15]}
