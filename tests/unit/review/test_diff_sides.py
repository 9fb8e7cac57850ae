"""A side's listing and record keys kept by the digest of its tree say what
listing and keying it says, and a damaged side file costs a listing, never a wrong diff."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cfgc.bundle.cache_index import cache_key
from cfgc.bundle.target_keys import TargetKeys, global_key
from cfgc.compile.compiler import Compiler
from cfgc.repo import config
from cfgc.repo.hierarchy import Hierarchy
from cfgc.repo.sources import DirSource, GitSource
from cfgc.review import diff_files, diff_sides
from cfgc.review.check_cache import validator_versions
from cfgc.review.diff import open_sides
from cfgc.review.diff_cache import record_key
from cfgc.review.diff_files import blob_digest
from cfgc.review.sealed import read_sealed, write_sealed
from tests.fixtures.repos import EXAMPLE, git, git_init
from tests.unit.review.diff_run import diff_worktree, same

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def listings(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per hierarchy listing made in this process."""
    seen: list[int] = []
    real = Hierarchy.listing

    def spy(self: Hierarchy, *args: Any, **kwargs: Any) -> Any:
        seen.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Hierarchy, "listing", spy)
    monkeypatch.setenv("CFGC_JOBS", "1")
    return seen






def _edit(root: Path) -> None:
    providers = root / "base/00-providers.yaml"
    providers.write_text(providers.read_text() + "\nglobal_extra: 1\n")


def test_a_kept_side_is_its_listing_and_its_keys(example_repo: Path, tmp_path: Path) -> None:
    git_init(example_repo)
    _edit(example_repo)
    cache = tmp_path / "cache"
    diff_worktree(example_repo, cache)
    files = _sides(cache / diff_sides.FOLDER)
    assert len(files) == 2  # the base commit's side and the working tree's
    store = diff_sides.SideStore(cache)
    base, head = open_sides(example_repo, "HEAD", None)
    for source in (base, head):
        compiler = Compiler(source)
        ids: dict[str, str] = {}
        if isinstance(source, DirSource):
            diff_files.changed_files(base, head, ids)
        digest = blob_digest(source, ids)
        tree = source.tree_id() if isinstance(source, GitSource) else None
        name = diff_sides.side_digest(global_key(compiler), validator_versions(), None,
                                      compiler.hierarchy.files, digest, tree)
        kept = store.get(name)
        assert kept is not None
        assert kept.specs == compiler.specs()
        keys = TargetKeys(global_key(compiler), digest)
        want = {s.name: record_key(keys.key(s), validator_versions()) for s in compiler.specs()}
        assert kept.keys == want  # a global edit reaches every target: each was keyed
    assert isinstance(base, GitSource)
    base.close()


def test_a_recorded_diff_lists_no_side(example_repo: Path, tmp_path: Path, listings: list[int]) -> None:
    git_init(example_repo)
    _edit(example_repo)
    want = diff_worktree(example_repo, None)
    cache = tmp_path / "cache"
    same(diff_worktree(example_repo, cache), want)
    listings.clear()
    same(diff_worktree(example_repo, cache), want)
    assert listings == []


def _reseal(path: Path, change: Any) -> None:
    key = cache_key()
    doc = orjson.loads(read_sealed(path, diff_sides.MAGIC, key, diff_sides.MAX_FILE_BYTES))
    change(doc)
    write_sealed(path, diff_sides.MAGIC, key, orjson.dumps(doc))


def _unsorted(doc: dict[str, Any]) -> None:
    doc["specs"].reverse()


def _bad_prefix(doc: dict[str, Any]) -> None:
    doc["specs"][0][2] = len(doc["prefixes"])


def _short_values(doc: dict[str, Any]) -> None:
    doc["specs"][0][1] = doc["specs"][0][1][:-1]


def _sides(folder: Path) -> list[Path]:
    """The side files (named by their digest; cfgc.yaml's kept file beside them is not one)."""
    return sorted(p for p in folder.iterdir() if len(p.name) == 64)


def _swap_names(folder: Path) -> None:
    a, b = _sides(folder)
    data = a.read_bytes()
    a.write_bytes(b.read_bytes())
    b.write_bytes(data)


def _each(folder: Path, damage: Any) -> None:
    for path in _sides(folder):
        damage(path)


TAMPER = {
    "flipped byte": lambda d: _each(d, lambda p: p.write_bytes(p.read_bytes()[:-5] + b"X" + p.read_bytes()[-4:])),
    "truncated": lambda d: _each(d, lambda p: p.write_bytes(p.read_bytes()[:100])),
    "another side's file": _swap_names,
    "another kind of file": lambda d: _each(d, lambda p: p.write_bytes(
        b"cfgc-diff-cache 1\n" + p.read_bytes().partition(b"\n")[2])),
    "not sorted": lambda d: _each(d, lambda p: _reseal(p, _unsorted)),
    "prefix out of range": lambda d: _each(d, lambda p: _reseal(p, _bad_prefix)),
    "a variable missing": lambda d: _each(d, lambda p: _reseal(p, _short_values)),
}


@pytest.mark.parametrize("how", list(TAMPER))
def test_a_damaged_side_file_is_listed_again(example_repo: Path, tmp_path: Path, listings: list[int],
                                              how: str) -> None:
    git_init(example_repo)
    _edit(example_repo)
    want = diff_worktree(example_repo, None)
    cache = tmp_path / "cache"
    diff_worktree(example_repo, cache)
    TAMPER[how](cache / diff_sides.FOLDER)
    listings.clear()
    got = diff_worktree(example_repo, cache)
    same(got, want)
    assert listings  # what could not be used was listed again
    listings.clear()
    same(diff_worktree(example_repo, cache), want)  # and kept again
    assert listings == []


def test_a_file_no_target_reads_that_cannot_be_hashed_is_no_error(example_repo: Path, tmp_path: Path) -> None:
    """A symlink in the working tree outside every layer: the side is listed as
    without a cache folder, not refused."""
    git_init(example_repo)
    _edit(example_repo)
    (example_repo / "docs").mkdir(exist_ok=True)
    (example_repo / "docs" / "link.txt").symlink_to(tmp_path / "elsewhere.txt")
    same(diff_worktree(example_repo, tmp_path / "cache"), diff_worktree(example_repo, None))


def test_at_most_keep_side_files(tmp_path: Path) -> None:
    store = diff_sides.SideStore(tmp_path)
    for n in range(diff_sides.KEEP + 5):
        store.put(f"{n:064x}", [], {})
    assert len(_sides(tmp_path / diff_sides.FOLDER)) == diff_sides.KEEP


# -- generated trees: services added and removed, optional layers, --target --------------------------

_SERVICES = [f"tenants/{t}/{e}/services/{s}.yaml" for t in ("acme", "globex") for e in ("dev", "prod")
             for s in ("chat", "extra")]
_EDITS = st.lists(st.one_of(
    st.tuples(st.just("write"), st.sampled_from(_SERVICES), st.integers(0, 3)),
    st.tuples(st.just("delete"), st.sampled_from(_SERVICES), st.just(0)),
    st.tuples(st.just("write"), st.sampled_from(["tenants/globex/dev/env.yaml", "base/00-providers.yaml"]),
              st.integers(0, 3)),
), max_size=4)


def _apply(root: Path, edits: list[tuple[str, str, int]]) -> None:
    for kind, rel, n in edits:
        path = root / rel
        if kind == "delete":
            path.unlink(missing_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        text = path.read_text() if path.exists() else "service: {name: extra}\n"
        path.write_text(text + f"\ngenerated_{n}: {n}\n")


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(_EDITS, _EDITS, st.sampled_from([None, "acme/*", "*/prod/*"]))
def test_kept_sides_say_what_listing_says_for_generated_trees(
        first: list[tuple[str, str, int]], second: list[tuple[str, str, int]], select: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp, mock.patch.object(diff_files, "_INDEX_MIN", 0):
        root = Path(tmp) / "repo"
        shutil.copytree(EXAMPLE, root)
        git_init(root)
        cache = Path(tmp) / "cache"
        for edits in (first, second):  # the second tree must not be answered by the first's side files
            _apply(root, edits)
            try:
                want = diff_worktree(root, None, select)
            except Exception as e:  # noqa: BLE001 - a tree that does not list (a bad edit): the same error
                with pytest.raises(type(e)):
                    diff_worktree(root, cache, select)
                continue
            for _ in range(2):  # listed and kept, then from the side files
                same(diff_worktree(root, cache, select), want)
        git(root, "add", "-A")  # the index vouches for the ids now: the working tree's digest is the same
        want = diff_worktree(root, None, select)
        same(diff_worktree(root, cache, select), want)


_SECOND_RUN = """
import sys
from pathlib import Path
from cfgc.review.diff import compare, open_sides
root, cache = Path(sys.argv[1]), Path(sys.argv[2])
base, head = open_sides(root, "HEAD", None)
compare(base, head, None, "HEAD", "working tree", cache=cache)
print(sorted(m for m in ("git", "yaml", "jsonschema_rs", "jsonschema", "jinja2") if m in sys.modules))
"""


def test_a_recorded_diff_needs_no_yaml_parser_schema_validator_nor_gitpython(example_repo: Path,
                                                                               tmp_path: Path) -> None:
    git_init(example_repo)
    _edit(example_repo)
    cache = tmp_path / "cache"
    diff_worktree(example_repo, cache)
    out = subprocess.run([sys.executable, "-c", _SECOND_RUN, str(example_repo), str(cache)],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("how", ["flipped byte", "another kind of file"])
def test_a_damaged_config_file_is_parsed_again(example_repo: Path, tmp_path: Path, how: str) -> None:
    git_init(example_repo)
    _edit(example_repo)
    want = diff_worktree(example_repo, None)
    cache = tmp_path / "cache"
    diff_worktree(example_repo, cache)
    path = cache / diff_sides.FOLDER / diff_sides.CONFIG_NAME
    data = path.read_bytes()
    path.write_bytes(data[:-5] + b"X" + data[-4:] if how == "flipped byte"
                     else b"cfgc-diff-side 1\n" + data.partition(b"\n")[2])
    config.MARKS.clear()
    config.ACCEPTED.clear()
    same(diff_worktree(example_repo, cache), want)


def test_kept_cfgc_yaml_verdicts_need_the_same_schema_and_validators(
        example_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    git_init(example_repo)
    _edit(example_repo)
    cache = tmp_path / "cache"
    diff_worktree(example_repo, cache)
    store = diff_sides.SideStore(cache)
    config.ACCEPTED.clear()
    marks, accepted = store.assume_config()
    assert accepted >= 1 and config.ACCEPTED  # kept by the diff, taken back
    config.ACCEPTED.clear()
    monkeypatch.setattr(config, "verdict_stamp", lambda: "another validator")
    assert store.assume_config() == (0, 0) and not config.ACCEPTED


_NAMES = st.sampled_from(["a/dev/x", "a/prod/y", "b/dev/z"])
_ROW = st.tuples(_NAMES, st.lists(st.sampled_from(["a", "b", "dev", "prod"]), min_size=2, max_size=2),
                 st.sampled_from([0, 1, True, 1.0, 2, -1]), st.sampled_from(["x.yaml", "y.yaml"]),
                 st.sampled_from([None, "k1", "k2", 3]))


def _side_doc(rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    return {"vars": ["tenant", "env"], "prefixes": [["base.yaml"], ["base.yaml", "env.yaml"]],
            "specs": sorted(([*r[:1], list(r[1]), *r[2:]] for r in rows), key=lambda r: r[0])}


@settings(max_examples=200, deadline=None)
@given(st.lists(_ROW, max_size=4, unique_by=lambda r: r[0]), st.lists(_ROW, max_size=4, unique_by=lambda r: r[0]))
def test_a_side_decoded_beside_the_other_says_what_it_says_alone(mine: list[Any], other: list[Any]) -> None:
    # Rows equal to the other side's at the same place take its checked specs:
    # the same answer as decoding alone (an index True or 1.0 is still refused).
    like = diff_sides._decode(_side_doc(other))
    alone = diff_sides._decode(orjson.loads(orjson.dumps(_side_doc(mine))))
    beside = diff_sides._decode(orjson.loads(orjson.dumps(_side_doc(mine))), like)
    assert (alone is None) == (beside is None)
    if alone is not None and beside is not None:
        assert beside.specs == alone.specs and beside.keys == alone.keys
        if like is not None:
            for i, spec in enumerate(beside.specs):  # what was taken is the other side's equal spec
                if i < len(like.specs) and spec is like.specs[i]:
                    assert spec == alone.specs[i]
