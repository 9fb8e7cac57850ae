"""Tagged files hand the credential scan the candidates the parse collected
(a merge tag's values at the tag's key, a !prompt's name left out): the same candidates and the same findings
(rule, message, location, no value) as the scan's own walk of the value."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cfgc.base import yaml_fast
from cfgc.base.errors import InputError
from cfgc.base.loading import load_yaml
from cfgc.compile import hygiene
from tests.unit.base.test_yaml_fast_tags import Alphabet, tagged_block

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks"))

import corpus  # noqa: E402

pytestmark = pytest.mark.skipif(not yaml_fast.AVAILABLE, reason="yaml-rs is not installed")

_SECRET = "sk-" + "A1b2C3d4" * 4


def assert_scan_agrees(raw: bytes) -> bool:
    """The parse's candidates and findings equal the walk's; whether the parse collected them."""
    try:
        doc = load_yaml(raw, "f.yaml", reload=lambda: raw)
    except InputError:
        return False
    walked = dataclasses.replace(doc, scanned=None)
    assert list(hygiene.candidates(walked)) == list(hygiene._walk(doc.data, ()))  # noqa: SLF001 - the reference
    if doc.scanned is None:
        return False
    assert doc.scanned[0] is doc.data
    assert list(hygiene.candidates(doc)) == list(hygiene.candidates(walked)), raw
    assert hygiene.plaintext_findings(doc) == hygiene.plaintext_findings(walked), raw
    return True


HAND_WRITTEN = [
    "routing:\n  fallbacks: !append [https://api.example.com/v1]\nurl: https://api.example.com/v1\n",
    f"a: !replace\n  token: {_SECRET}\n  b: !append [{_SECRET}]\ntoken: {_SECRET}\n",
    f"a:\n  - token: {_SECRET}\n    b: !append [1]\n  - f: 1\n    c: !prompt x@1\n    api_key: {_SECRET}\n",
    f"a: !append\n  - api_key: {_SECRET}\n    b: !delete\n  - c:\n      d: !prepend [y@z]\n",
    f"x:\n  y:\n    z: !replace\n      w: !replace\n        v: !delete\n  u: !append [1]\n  password: {_SECRET}\nt: !delete\n",
    "p: !prompt chat@^1.0\nq: user@example.com\nsystem: !prompt   chat@>=1.0 <2.0   # pinned\n",
    f"token: {_SECRET}\nother:\n  token: {_SECRET}\n  list: [{_SECRET}, a@b]\n  gone: !delete\n",
]


@pytest.mark.parametrize("text", HAND_WRITTEN)
def test_hand_written_tagged_files(text: str) -> None:
    assert assert_scan_agrees(text.encode())


_KEYS = st.sampled_from(["a", "token", "api_key", "url", "k-1"])
_SCALARS = st.sampled_from(["1", "x", "a@b", _SECRET, "https://api.example.com/v1", "'q@r'", "[x@y, 2]"])
_TAILS = st.sampled_from(
    ["", " # c", f" [1, {_SECRET}]", " [a@b, {token: " + _SECRET + "}]", " {api_key: " + _SECRET + "}",
     " x@1.0", " 'y@^2'", " x@>=1 <2"]
)
_TAGS = st.sampled_from(["!delete", "!append", "!prepend", "!replace", "!prompt"])


_ALPHABET = Alphabet(_KEYS, _SCALARS, _TAGS, _TAILS, most=4, follows=("", "", "block", "seq"), seq_head=None)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tagged_block(_ALPHABET))
def test_generated_tagged_files(lines: list[str]) -> None:
    assert_scan_agrees(("\n".join(lines) + "\n").encode())


def _yaml_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def test_full_corpus_and_repo_files(tmp_path: Path) -> None:
    corpus.generate(tmp_path, 2, 2, 6, plain=False, seed=5)
    tagged = 0
    for path in _yaml_files(tmp_path) + _yaml_files(ROOT / "examples") + _yaml_files(ROOT / "tests" / "data"):
        raw = path.read_bytes()
        if assert_scan_agrees(raw) and b": !" in raw:
            tagged += 1
    assert tagged > 10  # the corpus's service files carry tags and are collected by the parse
