"""A diff's kept result (cfgc.review.diff_memo) says what the diff says, is kept
only when made from records alone, and a damaged result file costs the records' diff, never a wrong one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from cfgc.base.diagnostics import Diagnostic
from cfgc.base.errors import Location
from cfgc.bundle.cache_index import cache_key
from cfgc.compile.merging import MISSING
from cfgc.review import diff_cache, diff_memo
from cfgc.review.diff import DiffResult
from cfgc.review.diff_result import TargetDiff
from cfgc.review.diff_values import Change
from cfgc.review.report.diff import render_json
from cfgc.review.sealed import read_sealed, write_sealed
from tests.fixtures.repos import git_init
from tests.unit.review.diff_run import diff_worktree, same
from tests.unit.review.sealed_damage import DAMAGES, damaged


@pytest.fixture
def record_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per record file opened in this process."""
    seen: list[int] = []
    real = diff_cache.DiffCache.__init__

    def spy(self: diff_cache.DiffCache, *args: Any, **kwargs: Any) -> None:
        seen.append(1)
        real(self, *args, **kwargs)

    monkeypatch.setattr(diff_cache.DiffCache, "__init__", spy)
    monkeypatch.setenv("CFGC_JOBS", "1")
    return seen






def _results(cache: Path) -> list[Path]:
    folder = cache / diff_memo.FOLDER
    return sorted(folder.iterdir()) if folder.is_dir() else []


def _edited(repo: Path) -> Path:
    git_init(repo)
    providers = repo / "base/00-providers.yaml"
    providers.write_text(providers.read_text() + "\nglobal_extra: 1\n")
    return repo


@pytest.mark.parametrize("select", [None, "acme/*"])
def test_a_rerun_reads_the_result_kept_from_records_alone(example_repo: Path, tmp_path: Path,
                                                           record_reads: list[int], select: str | None) -> None:
    repo = _edited(example_repo)
    want = diff_worktree(repo, None, select)
    assert want.targets  # (the edit reaches targets)
    cache = tmp_path / "cache"
    same(diff_worktree(repo, cache, select), want)
    assert _results(cache) == []  # targets were compiled: no result kept
    same(diff_worktree(repo, cache, select), want)  # both sides from records
    assert len(_results(cache)) == 1
    record_reads.clear()
    same(diff_worktree(repo, cache, select), want)
    assert record_reads == []  # the kept result: no record file read


def test_another_tree_is_not_answered_by_a_kept_result(example_repo: Path, tmp_path: Path) -> None:
    repo = _edited(example_repo)
    cache = tmp_path / "cache"
    for _ in range(3):
        diff_worktree(repo, cache)
    env = repo / "tenants/acme/prod/env.yaml"
    env.write_text(env.read_text() + "\nsecond_edit: 2\n")
    want = diff_worktree(repo, None)
    for _ in range(3):
        same(diff_worktree(repo, cache), want)
    assert len(_results(cache)) == 2


def _reseal(path: Path, change: Any) -> None:
    key = cache_key()
    doc = orjson.loads(read_sealed(path, diff_memo.MAGIC, key, diff_memo.MAX_FILE_BYTES))
    change(doc)
    write_sealed(path, diff_memo.MAGIC, key, orjson.dumps(doc))


def _first_change(doc: dict[str, Any]) -> list[Any]:
    return next(t[4][0] for t in doc["targets"] if t[4])


def _set(field: str, value: Any) -> Any:
    return lambda doc: doc.__setitem__(field, value)


RESEALED = {
    "another version": _set("cfgc", "0.0.0"),
    "another key inside": _set("key", "0" * 64),
    "a bad status": lambda doc: doc["targets"][0].__setitem__(1, "moved"),
    "a bad absent flag": lambda doc: _first_change(doc).__setitem__(1, 4),
    "a bad location": lambda doc: _first_change(doc).__setitem__(4, ["x", "1", 1]),
    "a bad path": lambda doc: _first_change(doc).__setitem__(0, [1.5]),
    "a short change": lambda doc: _first_change(doc).pop(),
    "a bad finding": _set("errors", [["fatal", "m", None, 0, 0, "r", []]]),
    "no targets": _set("targets", None),
}


@pytest.mark.parametrize("how", [*DAMAGES, "another result's name", *RESEALED])
def test_a_damaged_result_file_is_a_miss(example_repo: Path, tmp_path: Path, record_reads: list[int],
                                         how: str) -> None:
    repo = _edited(example_repo)
    want = diff_worktree(repo, None)
    cache = tmp_path / "cache"
    diff_worktree(repo, cache)
    diff_worktree(repo, cache)
    [path] = _results(cache)
    if how in RESEALED:
        _reseal(path, RESEALED[how])
    elif how == "another result's name":
        path.rename(path.with_name("f" * 64))
    else:
        data = path.read_bytes()
        path.write_bytes(damaged(data, diff_memo.MAGIC, data.replace(b'"changed"', b'"added"'), how))
    record_reads.clear()
    same(diff_worktree(repo, cache), want)
    assert record_reads  # diffed from the records instead


def _result(value: Any) -> DiffResult:
    changes = (Change(("a", 0), MISSING, value, Location("f.yaml", 3, 4)),
               Change(("b",), value, MISSING, None, secret=True), Change((), 1, 2.5, Location("g.yaml")))
    return DiffResult("base", "head", ("tenant", "env"), (
        TargetDiff("t/e", "changed", {"tenant": "t", "env": "e"}, True, changes),
        TargetDiff("u/e", "added", {"tenant": "u", "env": "e"}, False)), ("base/x.yaml",), 2, 5,
        (Diagnostic("error", "bad", Location("f.yaml", 1, 1), "schema", ("t/e",)),))


@pytest.mark.parametrize("value", [None, True, 0, -(2**63), 2**64 - 1, 1.5e-7, 1e16, "é\n\"x", [1, [2]],
                                   {"k": {"": [None]}}])
def test_a_kept_result_reads_back_equal(tmp_path: Path, value: Any) -> None:
    store = diff_memo.ResultStore(tmp_path)
    store.put("a" * 64, _result(value))
    got = store.get("a" * 64)
    assert got == _result(value)
    assert got is not None and render_json(got) == render_json(_result(value))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), (1, 2), {1: "x"}, 2**64, object()])
def test_a_result_json_cannot_carry_exactly_is_not_kept(tmp_path: Path, value: Any) -> None:
    store = diff_memo.ResultStore(tmp_path)
    store.put("a" * 64, _result(value))
    assert _results(tmp_path) == []


def test_at_most_keep_results(tmp_path: Path) -> None:
    store = diff_memo.ResultStore(tmp_path)
    for n in range(diff_memo.KEEP + 3):
        store.put(f"{n:064x}", _result(n))
    assert len(_results(tmp_path)) == diff_memo.KEEP
    assert store.get(f"{diff_memo.KEEP + 2:064x}") == _result(diff_memo.KEEP + 2)
    assert store.get("not a key") is None

