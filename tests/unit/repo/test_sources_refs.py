"""Unknown revisions are usage errors naming the option that gave them (cfgc/repo/sources.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cfgc.base.errors import EXIT_USAGE, UsageError
from cfgc.repo.sources import GitSource
from tests.fixtures.repos import git, git_init


def _repo(tmp_path: Path) -> Path:
    root = tmp_path / "r"
    root.mkdir()
    (root / "cfgc.yaml").write_text("version: 1\n")
    git_init(root)
    git(root, "branch", "release-2026")
    return root


def test_typo_names_the_option_and_close_branches(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as e:
        GitSource(_repo(tmp_path), "mian", "--base")
    assert e.value.exit_code == EXIT_USAGE
    assert e.value.message.startswith("--base mian: unknown revision 'mian'")
    assert "did you mean 'main'?" in e.value.message


def test_no_hint_when_nothing_is_close(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as e:
        GitSource(_repo(tmp_path), "zzzzzzzz", "--head")
    assert "did you mean" not in e.value.message


def test_outside_git_names_the_callers_option(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="^error: cfgc history needs a git repository"):
        GitSource(tmp_path, "HEAD", "cfgc history")
