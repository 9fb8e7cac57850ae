"""The changed files of a git base and a working tree: the base listed on a
thread beside the working tree's walk gives what listing them one after the
other gives, and the same error."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from cfgc.base.errors import InputError
from cfgc.repo.sources import DirSource, GitSource
from cfgc.review import diff_files
from cfgc.review.diff import open_sides
from tests.fixtures.repos import git, git_init


def _blob(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def one_after_the_other(base: GitSource, head: DirSource) -> list[str]:
    """The changed files as read one by one (every working-tree file hashed)."""
    a, b = set(base.files()), set(head.files())
    same = {p for p in a & b if base.blob_sha(p) == _blob(head.read(p))}
    return sorted((a | b) - same)


def edit(repo: Path) -> None:
    (repo / "envs/prod.yaml").write_text((repo / "envs/prod.yaml").read_text() + "\nextra: 1\n")
    (repo / "base/00-providers.yaml").unlink()
    (repo / "new.yaml").write_text("untracked: 1\n")


@pytest.mark.parametrize("use_index", [True, False])
def test_changed_files_are_those_read_one_by_one(example_repo: Path, use_index: bool,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    git_init(example_repo)
    edit(example_repo)
    monkeypatch.setattr(diff_files, "_INDEX_MIN", 0)  # the example repo is small: take git's index too
    base, head = open_sides(example_repo, "HEAD", None)
    assert isinstance(base, GitSource) and isinstance(head, DirSource)
    ids: dict[str, str] = {}
    got = diff_files.changed_files(base, head, ids, use_index=use_index)
    fresh_base, fresh_head = open_sides(example_repo, "HEAD", None)
    assert isinstance(fresh_base, GitSource) and isinstance(fresh_head, DirSource)
    assert got == one_after_the_other(fresh_base, fresh_head)
    assert {"envs/prod.yaml", "base/00-providers.yaml", "new.yaml"} <= set(got)
    for path, sha in ids.items():  # the ids kept for the record keys are the files' bytes
        assert sha == _blob((example_repo / path).read_bytes()), path


@pytest.mark.parametrize("failing", [("base",), ("head",), ("base", "head")])
def test_the_base_error_comes_first_as_when_listed_first(example_repo: Path, failing: tuple[str, ...],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    git_init(example_repo)
    git(example_repo, "commit", "-q", "--allow-empty", "-m", "again")
    base, head = open_sides(example_repo, "HEAD~1", None)

    def broken(side: str) -> Any:
        def files(self: Any) -> list[str]:
            raise InputError(f"{side} cannot be listed")
        return files

    if "base" in failing:
        monkeypatch.setattr(GitSource, "files", broken("base"))
    if "head" in failing:
        monkeypatch.setattr(DirSource, "files", broken("head"))
    with pytest.raises(InputError) as e:
        diff_files.changed_files(base, head, {})
    assert e.value.message == f"{failing[0]} cannot be listed"


def test_ctrl_c_while_the_tree_is_walked_stays_an_interrupt(example_repo: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """git gets the same SIGINT and fails: the interrupt, not git's error, reaches the caller."""
    git_init(example_repo)
    git(example_repo, "commit", "-q", "--allow-empty", "-m", "again")
    base, head = open_sides(example_repo, "HEAD~1", None)

    def git_killed(self: Any) -> list[str]:
        raise InputError("git ls-tree failed: exit status -2")

    def interrupted(self: Any) -> list[str]:
        raise KeyboardInterrupt

    monkeypatch.setattr(GitSource, "files", git_killed)
    monkeypatch.setattr(DirSource, "files", interrupted)
    with pytest.raises(KeyboardInterrupt):
        diff_files.changed_files(base, head, {})
