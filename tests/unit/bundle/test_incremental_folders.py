"""The in-place build's folder check: a folder whose stat moved is listed alone, never the whole repo."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cfgc.repo.sources import DirSource
from tests.unit.bundle.test_incremental import build, clean, repo, tree

__all__ = ["repo"]  # the fixture, shared with test_incremental


@pytest.fixture
def walks(monkeypatch) -> list[str]:
    """Every whole-repo listing a build makes."""
    seen: list[str] = []
    real = DirSource.files

    def files(self: DirSource) -> list[str]:
        if self._files is None:
            seen.append(str(self.root))
        return real(self)

    monkeypatch.setattr(DirSource, "files", files)
    return seen


def test_out_inside_the_repo_is_not_taken_for_a_change_of_the_repo(repo: Path, tmp_path: Path, walks: list[str]) -> None:
    out, cache = repo / "build" / "bundle", tmp_path / "cache"
    build(repo, out, cache)
    build(repo, out, cache)  # the first build made build/, which its listing did not hold: built whole
    inode = out.stat().st_ino
    assert build(repo, out, cache).unchanged
    (repo / "svc/dev/s1.yaml").write_text("id: 1\nchanged: true\n")
    walks.clear()
    done = build(repo, out, cache)
    assert not done.unchanged and out.stat().st_ino == inode  # updated in place
    assert walks == []  # OUT's folders moved; they were listed alone, the repo was not walked
    assert build(repo, out, cache).unchanged and walks == []
    assert tree(out) == clean(repo, tmp_path / "clean")


@pytest.mark.parametrize("where", ["outside", "inside"])
def test_a_file_added_in_a_new_folder_is_still_noticed(repo: Path, tmp_path: Path, where: str) -> None:
    out = (repo / "build" / "bundle") if where == "inside" else tmp_path / "out"
    cache = tmp_path / "cache"
    first = build(repo, out, cache)
    (repo / "svc/qa").mkdir()
    (repo / "svc/qa/s1.yaml").write_text("id: 1\n")
    (repo / "envs/qa.yaml").write_text("env: qa\n")
    done = build(repo, out, cache)
    assert len(done.targets) == len(first.targets) + 1
    assert tree(out) == clean(repo, tmp_path / "clean")


def test_a_file_saved_by_rename_costs_no_walk(repo: Path, tmp_path: Path, walks: list[str]) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    build(repo, out, cache)
    inode = out.stat().st_ino
    tmp = repo / "svc/prod/.s2.yaml.swp"
    tmp.write_text("id: 2\nsaved: 1\n")
    os.replace(tmp, repo / "svc/prod/s2.yaml")  # as editors save: the folder's stat moves
    walks.clear()
    build(repo, out, cache)
    assert walks == [] and out.stat().st_ino == inode
    assert tree(out) == clean(repo, tmp_path / "clean")


def test_a_stray_file_beside_the_lock_is_a_change(repo: Path, tmp_path: Path) -> None:
    """Only cfgc's own lock and commit names beside OUT are left out of the folder check."""
    out, cache = repo / "build" / "bundle", tmp_path / "cache"
    first = build(repo, out, cache)
    (repo / "build" / "bundle.lock").write_text("not cfgc's\n")
    (repo / "svc/prod/s9.yaml").write_text("id: 9\n")
    done = build(repo, out, cache)
    assert len(done.targets) == len(first.targets) + 1
    assert tree(out) == clean(repo, tmp_path / "clean")
