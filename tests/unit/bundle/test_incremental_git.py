"""In-place builds of a git checkout record what git says now: dirty after an edit, the new commit after one."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from cfgc.bundle import incremental
from tests.fixtures.repos import git, git_init
from tests.unit.bundle.test_incremental import build, clean, repo, tree  # noqa: F401 - the fixture

pytestmark = pytest.mark.usefixtures("repo")


def test_git_state_after_edit_commit_and_revert(repo: Path, tmp_path: Path, monkeypatch) -> None:  # noqa: F811
    (repo / "NOTES.txt").write_text("notes\n")  # tracked, read by no target
    git_init(repo)
    out, cache = tmp_path / "out", tmp_path / "cache"
    build(repo, out, cache)
    runs: list[bool] = []
    real = incremental.build_in_place

    def spy(*a, **k):  # noqa: ANN002, ANN003, ANN202
        done = real(*a, **k)
        runs.append(done is not None)
        return done

    monkeypatch.setattr(incremental, "build_in_place", spy)
    steps = [
        ("edit", lambda: (repo / "svc/dev/s1.yaml").write_text("id: 101\n"), True),
        ("commit", lambda: git(repo, "commit", "-qam", "edit"), False),
        ("edit a file no target reads", lambda: (repo / "NOTES.txt").write_text("changed\n"), True),
        ("undo that edit", lambda: (repo / "NOTES.txt").write_text("notes\n"), False),
        ("branch", lambda: git(repo, "checkout", "-q", "-b", "feature"), False),
    ]
    for label, step, dirty in steps:
        step()
        before = len(runs)
        result = build(repo, out, cache)
        assert runs[before:] == [True], label  # updated in place, not rebuilt whole
        source = json.loads((out / "manifest.json").read_text())["source"]
        assert source["dirty"] is dirty, label
        assert source["commit"] == git(repo, "rev-parse", "HEAD"), label
        assert source["ref"] == git(repo, "rev-parse", "--abbrev-ref", "HEAD"), label
        assert tree(out) == clean(repo, tmp_path / "clean"), label
        assert result.digest == "sha256:" + hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest()
