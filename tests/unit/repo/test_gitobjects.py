"""A commit resolved and read by git's own plumbing is what GitPython resolves and reads."""

from __future__ import annotations

import os
from pathlib import Path

import git as gitpython
import pytest

from cfgc.base.errors import UsageError
from cfgc.repo.gitobjects import CatFile, resolve
from cfgc.repo.sources import GitSource
from tests.fixtures.repos import commit_files, git, git_init


def _repo(tmp_path: Path) -> Path:
    root = tmp_path / "r"
    (root / "cfg" / "envs").mkdir(parents=True)
    (root / "cfg" / "cfgc.yaml").write_text("version: 1\n")
    (root / "cfg" / "envs" / "dev.yaml").write_bytes(b"a: 1\n\x00binary\xff\n" * 1000)
    (root / "other.yaml").write_text("x: 1\n")
    git_init(root)
    commit_files(root, {"cfg/envs/dev.yaml": "a: 2\n"})
    return root


@pytest.mark.parametrize("ref", ["HEAD", "HEAD~1", "main"])
@pytest.mark.parametrize("sub", ["", "cfg"])
def test_resolve_is_gitpythons_commit_and_tree(tmp_path: Path, ref: str, sub: str) -> None:
    root = _repo(tmp_path)
    at = root / sub if sub else root
    found = resolve(at, ref)
    assert found is not None
    repo = gitpython.Repo(root)
    commit = repo.commit(ref)
    tree = commit.tree / sub if sub else commit.tree
    assert found == (str(root.resolve()), str(Path(repo.git_dir).resolve()), commit.hexsha, tree.hexsha)
    repo.close()


@pytest.mark.parametrize("ref", ["nosuch", "-h", "--git-dir", "HEAD\nHEAD", "HEAD~9"])
def test_anything_else_takes_gitpythons_path(tmp_path: Path, ref: str) -> None:
    root = _repo(tmp_path)
    assert resolve(root, ref) is None
    with pytest.raises(UsageError):
        GitSource(root, ref, "--base")


def test_a_folder_the_commit_lacks_is_not_resolved(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "new").mkdir()
    assert resolve(root / "new", "HEAD") is None


def test_cat_file_reads_every_blob_as_gitpython_does_and_in_a_fork(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    src = GitSource(root / "cfg", "HEAD~1")
    cat = CatFile(src.git_dir)
    repo = gitpython.Repo(root)
    for path in src.files():
        blob = src._index()[path]
        want = repo.odb.stream(bytes.fromhex(blob.hexsha)).read()
        assert cat.read(blob.hexsha) == want == src.read(path)
    some = src._index()["envs/dev.yaml"].hexsha
    pid = os.fork()
    if pid == 0:  # the child must not use the parent's process
        os._exit(0 if cat.read(some) == repo.odb.stream(bytes.fromhex(some)).read() else 1)
    assert os.waitpid(pid, 0)[1] == 0
    cat.close()
    assert cat.read(some)  # a read after close starts another process
    cat.close()
    src.close()
    repo.close()
    git(root, "status")  # (nothing left holding the repository)
