"""cfgc.init_repo / find_repo / repos_below / repo_roots / value_history."""

from __future__ import annotations

from pathlib import Path

import pytest

import cfgc
from cfgc.api import render
from tests.fixtures.repos import commit_files, git_init


def test_init_writes_a_repo_that_validates(tmp_path: Path) -> None:
    done = cfgc.init_repo(tmp_path / "cfg")
    assert "cfgc.yaml" in done.files and all((tmp_path / "cfg" / f).is_file() for f in done.files)
    result = cfgc.validate(tmp_path / "cfg", cache=False)
    assert result.ok and result.targets


def test_init_refuses_to_overwrite_anything(tmp_path: Path) -> None:
    done = cfgc.init_repo(tmp_path)
    (tmp_path / "cfgc.yaml").unlink()
    mine = tmp_path / done.files[-1]
    mine.write_text("mine\n")
    with pytest.raises(cfgc.UsageError, match="not overwriting"):
        cfgc.init_repo(tmp_path)
    assert mine.read_text() == "mine\n" and not (tmp_path / "cfgc.yaml").exists()


def test_find_repo_walks_up_and_roots_group_files(tmp_path: Path) -> None:
    cfgc.init_repo(tmp_path / "a")
    cfgc.init_repo(tmp_path / "b")
    deep = tmp_path / "a" / "x" / "y"
    deep.mkdir(parents=True)
    assert cfgc.find_repo(deep) == (tmp_path / "a").resolve()
    with pytest.raises(cfgc.UsageError):
        cfgc.find_repo(tmp_path)
    assert cfgc.repos_below(tmp_path) == (tmp_path / "a", tmp_path / "b")
    (tmp_path / "README.md").write_text("x")
    roots = cfgc.repo_roots([deep, tmp_path / "b" / "cfgc.yaml", tmp_path / "a" / "cfgc.yaml", tmp_path / "README.md"])
    assert roots == ((tmp_path / "a").resolve(), (tmp_path / "b").resolve())


def test_value_history_lists_the_commits_that_changed_the_value(example_repo: Path) -> None:
    git_init(example_repo)
    layer = example_repo / "tenants/acme/prod/services/chat.yaml"
    text = layer.read_text()
    commit_files(example_repo, {"tenants/acme/prod/services/chat.yaml": text.replace("timeout_s: 20", "timeout_s: 25")},
                 "slower")
    commit_files(example_repo, {"README-notes.md": "unrelated\n"}, "notes")
    entries = cfgc.value_history(example_repo, "acme/prod/chat", "models.primary.timeout_s")
    assert [(e.subject, e.before, e.after) for e in entries][0] == ("slower", 20, 25)
    assert entries[-1].subject == "initial" and render.is_absent(entries[-1].before)
    assert len(cfgc.value_history(example_repo, "acme/prod/chat", "models.primary.timeout_s", max_count=1)) == 1
    assert render.history_json(entries[-1])["before"] is None
