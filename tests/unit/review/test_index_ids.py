"""Blob ids from git's index are taken only where they are the file's bytes,
and a diff that takes them says byte for byte what reading every file says."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from cfgc.repo.sources import DirSource
from cfgc.review import diff_files
from cfgc.review.diff import DiffResult, compare, open_sides
from cfgc.review.index_ids import index_ids
from cfgc.review.report.diff import render_json, render_text
from tests.fixtures.repos import git, git_init


def blob_id(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def vouched(root: Path) -> dict[str, str]:
    ids = index_ids(root, DirSource(root).files())
    for path, sha in ids.items():  # whatever it vouches for is the file's bytes
        assert blob_id(root / path) == sha, path
    return ids


def test_clean_files_come_from_the_index_and_edited_ones_do_not(example_repo: Path) -> None:
    git_init(example_repo)
    files = DirSource(example_repo).files()
    assert set(vouched(example_repo)) == set(files)
    same_size = example_repo / "envs/prod.yaml"
    text = same_size.read_text()
    same_size.write_text(text[:-2] + ("x" if text[-2] != "x" else "y") + text[-1])  # same size, same second
    appended = example_repo / "base/00-providers.yaml"
    appended.write_text(appended.read_text() + "\nextra: 1\n")
    (example_repo / "new.yaml").write_text("untracked: 1\n")
    ids = vouched(example_repo)
    assert {"envs/prod.yaml", "base/00-providers.yaml", "new.yaml"}.isdisjoint(ids)
    assert len(ids) == len(files) - 2


@pytest.mark.parametrize("how", ["assume-unchanged", "skip-worktree"])
def test_files_git_does_not_look_at_are_read(example_repo: Path, how: str) -> None:
    git_init(example_repo)
    path = example_repo / "envs/prod.yaml"
    git(example_repo, "update-index", f"--{how}", "envs/prod.yaml")
    path.write_text(path.read_text() + "\nhidden: 1\n")
    assert "envs/prod.yaml" not in vouched(example_repo)


@pytest.mark.parametrize("setup", [
    lambda r: (r / ".gitattributes").write_text("*.yaml text eol=crlf\n"),
    lambda r: git(r, "config", "core.autocrlf", "true"),
    lambda r: git(r, "config", "filter.x.clean", "cat"),
    lambda r: git(r, "config", "core.checkStat", "minimal"),
    lambda r: (r / ".git/info").mkdir(exist_ok=True) or (r / ".git/info/attributes").write_text("* ident\n"),
], ids=["gitattributes", "autocrlf", "filter", "checkstat", "info-attributes"])
def test_nothing_is_taken_when_git_could_convert_the_bytes(example_repo: Path, setup) -> None:  # type: ignore[no-untyped-def]
    git_init(example_repo)
    setup(example_repo)
    assert vouched(example_repo) == {}


def test_a_folder_above_the_config_repo_with_attributes(tmp_path: Path, example_repo: Path) -> None:
    outer = tmp_path / "mono"
    inner = outer / "config"
    outer.mkdir()
    os.rename(example_repo, inner)
    git_init(outer)
    assert vouched(inner)
    (outer / ".gitattributes").write_text("*.yaml ident\n")
    assert vouched(inner) == {}


def test_not_a_repository(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("a: 1\n")
    assert index_ids(tmp_path, ["a.yaml"]) == {}


def diff(root: Path, base: str, cache: Path | None) -> DiffResult:
    return compare(*open_sides(root, base, None), None, base, "working tree", cache=cache)


def test_a_diff_from_the_index_says_what_reading_says(example_repo: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    base = git_init(example_repo)
    prod = example_repo / "envs/prod.yaml"
    prod.write_text(prod.read_text() + "\nenv_extra: 1\n")
    chat = example_repo / "tenants/acme/dev/services/chat.yaml"
    git(example_repo, "update-index", "--assume-unchanged", str(chat.relative_to(example_repo)))
    chat.write_text(chat.read_text() + "\nservice_extra: 2\n")
    monkeypatch.setattr(diff_files, "_INDEX_MIN", 10**9)
    want = diff(example_repo, base, None)
    assert len(want.changed_files) == 2
    monkeypatch.setattr(diff_files, "_INDEX_MIN", 0)
    taken: list[int] = []

    def spy(root: Path, files: list[str]) -> dict[str, str]:
        ids = index_ids(root, files)
        taken.append(len(ids))
        return ids

    monkeypatch.setattr(diff_files, "index_ids", spy)
    for cache in (None, tmp_path / "cache", tmp_path / "cache"):  # compiled, recorded, from the records
        got = diff(example_repo, base, cache)
        assert got == want
        assert render_json(got) == render_json(want) and render_text(got) == render_text(want)
    assert taken and all(n == len(DirSource(example_repo).files()) - 2 for n in taken)
