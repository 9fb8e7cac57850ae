"""Differential: an input recalled by its orjson text (rego_projection.Inputs.quick_key)
gets the answer its json.dumps text gets, and a cold check keyed in its workers keeps
what a check keyed up front keeps."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfgc.base.secretrefs import SecretRef, jsonable
from cfgc.review import checks, rego_projection
from cfgc.review.check_cache import FILE_NAME, MAGIC, MAX_FILE_BYTES
from cfgc.review.rego_inputs import analyse
from cfgc.review.rego_projection import Inputs
from cfgc.review.sealed import read_sealed
from tests.fixtures.cli import run

ROOT = Path(__file__).resolve().parents[3]
POLICY = """\
package main

import rego.v1

deny contains "x" if { input.config.a == 1 }
"""

_KEYS = st.sampled_from(["a", "b", "é", "1", ""])
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=4),
                     st.sampled_from([1, 1.0, True, 0, -0.0, 0.0, "null", float("nan"), float("inf"), 2**64, 1e16]))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.tuples(inner), st.dictionaries(_KEYS, inner, max_size=3),
    st.dictionaries(st.integers(0, 2), inner, min_size=1, max_size=2)), max_leaves=8)


def _inputs() -> Inputs:
    use = analyse([POLICY])
    assert use.projects
    return Inputs(use)


@settings(max_examples=400, deadline=None)
@given(_VALUES, _VALUES)
def test_equal_quick_keys_are_equal_texts(a: Any, b: Any) -> None:
    inputs = _inputs()
    ka, kb = inputs.quick_key(a), inputs.quick_key(b)
    if ka is not None and ka == kb:
        assert json.dumps(a, default=jsonable) == json.dumps(b, default=jsonable)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), None, {1: 2}, 2**64, SecretRef("s.yaml", ("k",), "sops"),
                                   type("S", (str,), {})("x")])
def test_what_orjson_writes_differently_declines(value: Any) -> None:
    assert _inputs().quick_key({"config": {"a": value}}) is None


@pytest.fixture(scope="module")
def corpus_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import corpus
    finally:
        sys.path.pop(0)
    root = tmp_path_factory.mktemp("quick") / "repo"
    corpus.generate(root, 3, 2, 70, seed=3)  # 420 targets: a check forks its workers
    return root


def _check(repo: Path, *args: str) -> list[str]:
    out = []
    for fmt in ("json", "sarif"):
        code, text = run("check", "--repo", str(repo), "--format", fmt, *args)
        assert code in (0, 1), text
        out.append(text)
    return out


def test_quick_recall_gives_the_texts_answers(corpus_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = _check(corpus_repo, "--no-cache", "-j", "1")
    assert '"policy.' in fast[0]  # (the corpus policies find something)
    with monkeypatch.context() as m:
        m.setattr(rego_projection.Inputs, "quick_key", lambda self, projected: None)
        slow = _check(corpus_repo, "--no-cache", "-j", "1")
    assert fast == slow


def _entries(folder: Path) -> bytes:
    from cfgc.bundle.cache_index import cache_key

    return read_sealed(folder / FILE_NAME, MAGIC, cache_key(), MAX_FILE_BYTES)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_cold_check_keyed_in_its_workers_keeps_what_keying_first_keeps(
        corpus_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: str) -> None:
    want = _check(corpus_repo, "--no-cache", "-j", jobs)
    late = tmp_path / "late"
    assert _check(corpus_repo, "--cache-dir", str(late), "-j", jobs) == want
    first = tmp_path / "first"
    with monkeypatch.context() as m:  # the parent keys every target before any is checked
        m.setattr(checks.CheckCache, "empty", property(lambda self: False))
        assert _check(corpus_repo, "--cache-dir", str(first), "-j", jobs) == want
    assert _entries(late) == _entries(first)
    assert _check(corpus_repo, "--cache-dir", str(late), "-j", jobs) == want  # and read back
