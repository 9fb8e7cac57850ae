"""The concurrent git queries give what the seven sequential commands gave (cfgc/repo/gitinfo.py)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from cfgc.repo.gitinfo import GitQuery, strip_credentials, utc
from cfgc.repo.sources import DirSource, SourceInfo
from tests.fixtures.repos import git, git_init


def sequential(root: Path) -> SourceInfo:
    """The implementation GitQuery replaced, kept as the reference."""
    def run(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True,
                              timeout=30).stdout.strip()

    try:
        commit = run("rev-parse", "HEAD")
    except (subprocess.CalledProcessError, FileNotFoundError, subprocess.TimeoutExpired):
        return SourceInfo(dirty=None)
    toplevel = run("rev-parse", "--show-toplevel")
    subdir = os.path.relpath(root.resolve(), Path(toplevel).resolve()).replace(os.sep, "/")
    dirty = bool(run("status", "--porcelain", "--", "."))
    try:
        url: str | None = strip_credentials(run("remote", "get-url", run("remote").splitlines()[0]))
    except (subprocess.CalledProcessError, IndexError):
        url = None
    return SourceInfo(
        repo_url=url,
        ref=os.environ.get("CFGC_REF_NAME") or run("rev-parse", "--abbrev-ref", "HEAD") or None,
        commit=commit,
        commit_time=utc(int(run("log", "-1", "--format=%ct", "HEAD"))),
        dirty=dirty,
        subdir="" if subdir == "." else subdir,
    )


def _change(top: Path, how: str) -> Path:
    """Put the repo at ``top`` in one state; returns the folder to ask about."""
    sub = top / "config"
    if how == "no commit yet":
        return sub
    git_init(top)
    if how == "edited":
        (sub / "a.yaml").write_text("a: 2\n")
    elif how == "untracked file":
        (sub / "new.yaml").write_text("n: 1\n")
    elif how == "change outside the folder":
        (top / "other.txt").write_text("changed\n")
    elif how == "staged only":
        (sub / "a.yaml").write_text("a: 3\n")
        git(top, "add", "-A")
    elif how == "detached":
        git(top, "checkout", "-q", "--detach")
    elif how == "branch and remotes":
        git(top, "checkout", "-q", "-b", "feature/x")
        git(top, "remote", "add", "zz", "https://user:secret-token@example.com/zz.git")
        git(top, "remote", "add", "origin", "https://x-access-token:t0k@example.com/o.git")
        git(top, "config", "url.https://u:p@mirror.example/.insteadOf", "https://x-access-token:t0k@example.com/")
    elif how == "remote without url":
        git(top, "config", "remote.bare.fetch", "+refs/heads/*:refs/remotes/bare/*")
    elif how == "top level":
        return top
    return sub


STATES = ["no commit yet", "clean", "edited", "untracked file", "change outside the folder", "staged only",
          "detached", "branch and remotes", "remote without url", "top level"]


@pytest.mark.parametrize("how", STATES)
def test_same_info_as_the_sequential_commands(tmp_path: Path, how: str) -> None:
    top = tmp_path / "top"
    (top / "config").mkdir(parents=True)
    (top / "config" / "a.yaml").write_text("a: 1\n")
    (top / "other.txt").write_text("x\n")
    if how == "no commit yet":
        git(top, "init", "-q", "-b", "main")
    root = _change(top, how)
    expected = sequential(root)
    assert DirSource(root).info() == expected
    source = DirSource(root)
    assert source.info(source.start_info()) == expected
    if how == "branch and remotes":  # the case is what it claims: a rewritten URL, no token
        assert expected.repo_url == "https://mirror.example/o.git" and expected.ref == "feature/x"


def test_outside_any_repo(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    assert DirSource(tmp_path).info() == SourceInfo(dirty=None) == sequential(tmp_path)


def test_ref_name_from_the_environment(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "a.yaml").write_text("a: 1\n")
    git_init(tmp_path)
    monkeypatch.setenv("CFGC_REF_NAME", "refs/pull/7/merge")
    assert DirSource(tmp_path).info().ref == "refs/pull/7/merge" == sequential(tmp_path).ref


def test_a_query_closed_unread_leaves_no_process(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("a: 1\n")
    git_init(tmp_path)
    query = GitQuery(tmp_path)
    procs = [p for p in query._procs.values() if p is not None]
    query.close()
    assert procs and all(p.returncode is not None for p in procs)


def test_queries_stopped_early_never_leave_an_index_lock(tmp_path: Path) -> None:
    # Tracked files whose stat no longer matches the index make git status
    # refresh it under .git/index.lock; killed mid-refresh, git leaves the lock
    # and the user's next commit fails.  The query asks for no optional locks.
    for i in range(300):
        (tmp_path / f"f{i}.yaml").write_text(f"a: {i}\n")
    git_init(tmp_path)
    for i in range(300):
        os.utime(tmp_path / f"f{i}.yaml", ns=(i, i))
    for _ in range(20):
        query = GitQuery(tmp_path)
        query.close()
        assert not (tmp_path / ".git/index.lock").exists()
    assert subprocess.run(["git", "-C", str(tmp_path), "commit", "-q", "--allow-empty", "-m", "x"],
                          capture_output=True, env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                                                    "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}).returncode == 0


def _git_finds_a_repo(root: Path) -> bool:
    return subprocess.run(["git", "-C", str(root), "rev-parse", "--git-dir"], capture_output=True).returncode == 0


def _layouts(tmp: Path) -> dict[str, Path]:
    """Folders git may or may not find a repository above (each in its own tree)."""
    found: dict[str, Path] = {}
    plain = tmp / "plain" / "config"
    plain.mkdir(parents=True)
    found["plain"] = plain
    work = tmp / "work"
    (work / "config").mkdir(parents=True)
    (work / "config" / "a.yaml").write_text("a: 1\n")
    git_init(work)
    found["repo top"], found["repo sub-folder"] = work, work / "config"
    bare = tmp / "bare.git"
    git(tmp, "init", "-q", "--bare", str(bare))
    found["bare repo"], found["inside a bare repo"] = bare, bare / "refs"
    linked = tmp / "linked"
    linked.mkdir()
    (linked / "here").symlink_to(work / "config")
    found["symlink into a repo"] = linked / "here"
    other = tmp / "wt"
    git(work, "worktree", "add", "-q", str(other))
    found["worktree (.git file)"] = other / "config"
    moved = tmp / "gitfile" / "config"
    moved.mkdir(parents=True)
    (tmp / "gitfile" / ".git").write_text(f"gitdir: {work / '.git'}\n")
    found[".git file naming a repo"] = moved
    return found


def test_no_process_is_skipped_where_git_finds_a_repository(tmp_path: Path, monkeypatch) -> None:
    from cfgc.repo import gitinfo

    if any((p / ".git").exists() or (p / "HEAD").exists() for p in tmp_path.parents):
        pytest.skip("the temporary folder is itself inside a repository")
    layouts = _layouts(tmp_path)
    for name, root in layouts.items():
        # The shortcut: never False where git finds one; and every answer the one of asking git.
        assert gitinfo.may_be_repo(root) or not _git_finds_a_repo(root), name
        asked = DirSource(root).info()
        monkeypatch.setattr(gitinfo, "may_be_repo", lambda _root: True)
        assert asked == DirSource(root).info(), name
        if "bare" not in name:  # (the reference asks for a work tree a bare repository has not)
            assert asked == sequential(root), name
        monkeypatch.undo()
    assert not gitinfo.may_be_repo(layouts["plain"])  # the case it exists for: nothing started
    query = GitQuery(layouts["plain"])
    assert query._procs == {} and query.fields() == {"dirty": None}
    monkeypatch.setenv("GIT_SSL_CAINFO", "/etc/ssl/certs/ca.pem")
    assert not gitinfo.may_be_repo(layouts["plain"])
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "work" / ".git"))  # git takes this repository from the environment
    assert gitinfo.may_be_repo(layouts["plain"]) and _git_finds_a_repo(layouts["plain"])
    monkeypatch.delenv("GIT_DIR")
    (tmp_path / "plain" / "HEAD").write_text("ref: refs/heads/main\n")  # a folder that may be a bare repository
    assert gitinfo.may_be_repo(layouts["plain"])
