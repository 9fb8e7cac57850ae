"""A commit resolved and read by git's own plumbing is what GitPython resolves and reads."""

from __future__ import annotations

import os
import time
from pathlib import Path

import git as gitpython
import pytest

from cfgc.base.errors import ExternalError, InputError, UsageError
from cfgc.repo import gitobjects
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


def _hostile(tmp_path: Path) -> Path:
    """A commit whose file entry a.yaml (mode 100644) names a commit object, not a blob."""
    root = tmp_path / "h"
    root.mkdir()
    (root / "b.yaml").write_text("real: b\n")
    (root / "c.yaml").write_text("real: c\n")
    git_init(root)
    body = tmp_path / "body"
    body.write_text("x blob 14\nowned: by-a.yaml\n")
    evil = git(root, "hash-object", "-t", "commit", "--literally", "-w", str(body))
    git(root, "update-index", "--add", "--cacheinfo", f"100644,{evil},a.yaml")
    git(root, "commit", "-q", "-m", "hostile")
    return root


def test_a_file_entry_naming_a_commit_is_refused_and_later_reads_stay_in_step(tmp_path: Path) -> None:
    root = _hostile(tmp_path)
    src = GitSource(root, "HEAD")
    with pytest.raises(ExternalError, match="not a blob"):
        src.read("a.yaml")
    assert src.read("b.yaml") == b"real: b\n"  # not the commit's leftover body
    assert src.read("c.yaml") == b"real: c\n"
    batch = GitSource(root, "HEAD")
    with pytest.raises(ExternalError, match="not a blob"):
        batch.prefetch(["b.yaml", "a.yaml", "c.yaml"])
    src.close()
    batch.close()


def test_a_blob_over_the_limit_is_refused_by_its_header(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _repo(tmp_path)
    monkeypatch.setattr(gitobjects, "MAX_BLOB_BYTES", 1000)
    src = GitSource(root / "cfg", "HEAD~1")
    with pytest.raises(InputError, match="envs/dev.yaml is .* over the limit") as e:
        src.read("envs/dev.yaml")
    assert e.value.location is not None and e.value.location.path == "envs/dev.yaml"
    assert src.read("cfgc.yaml") == b"version: 1\n"
    with pytest.raises(InputError, match="envs/dev.yaml is .* over the limit"):
        GitSource(root / "cfg", "HEAD~1").prefetch(["cfgc.yaml", "envs/dev.yaml"])
    src.close()


def test_a_forked_child_does_not_hold_the_parents_cat_file_open(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    src = GitSource(root / "cfg", "HEAD")
    assert src.read("cfgc.yaml") == b"version: 1\n"
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # a worker that outlives its parent's close()
        os.close(w)
        os.read(r, 1)
        os._exit(0)
    os.close(r)
    try:
        started = time.monotonic()
        src.close()
        assert time.monotonic() - started < 5  # cat-file saw the end of its input
    finally:
        os.close(w)
        os.waitpid(pid, 0)


def test_a_source_dropped_without_close_leaves_no_descriptor_or_process(tmp_path: Path) -> None:
    import gc

    (tmp_path / "cfgc.yaml").write_text("version: 1\n")
    git_init(tmp_path)
    gc.collect()
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        src = GitSource(tmp_path, "HEAD")
        assert src.read("cfgc.yaml") == b"version: 1\n"  # starts its cat-file process
    del src
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) <= before + 2  # (not 2 per source: 40)
