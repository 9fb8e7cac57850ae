"""The bounds of a repo listing (cfgc.repo.listing, cfgc.repo.hierarchy): files and folders,
folder depth, git path length and layers per target, each checked as it is reached (exit 1)."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest

import cfgc
from cfgc.base import limits
from cfgc.base.errors import EXIT_EXTERNAL, EXIT_INVALID, ExternalError, InputError
from cfgc.repo import listing
from cfgc.repo.sources import DirSource, GitSource
from tests.fixtures.repos import git_init


def _tree(root: Path, files: int, folders: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(folders):
        (root / f"d{i}").mkdir(parents=True)
    for i in range(files):
        (root / f"d{i % folders}" / f"f{i}.yaml" if folders else root / f"f{i}.yaml").write_text("a: 1\n")


def _walked(root: Path) -> list[str]:
    out = []
    for dirpath, dirnames, names in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in listing.SKIP_DIRS]
        rel = os.path.relpath(dirpath, root)
        out += [n if rel == "." else f"{rel}/{n}" for n in names]
    return sorted(out)


def test_a_listing_at_the_bound_is_whole_and_one_more_entry_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "r"
    _tree(root, files=17, folders=3)  # 20 entries below the root
    (root / ".git").mkdir()  # never entered, never counted
    (root / ".git" / "x").write_text("")
    monkeypatch.setattr(limits, "MAX_REPO_FILES", 20)  # 17 files and 3 folders; .git is not listed
    assert DirSource(root).files() == _walked(root)
    (root / "d1" / "one-more.yaml").write_text("")
    with pytest.raises(InputError, match="more than 20 files and folders") as e:
        DirSource(root).files()
    assert e.value.exit_code == EXIT_INVALID and "MAX_REPO_FILES" in e.value.message


def test_a_folder_over_the_bound_is_not_listed_to_its_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "r"
    _tree(root, files=500, folders=0)
    monkeypatch.setattr(limits, "MAX_REPO_FILES", 10)
    seen = 0
    real = os.scandir

    class Counting:
        def __init__(self, path: Any) -> None:
            self.it = real(path)

        def __enter__(self) -> Counting:
            return self

        def __exit__(self, *a: object) -> None:
            self.it.close()

        def __iter__(self) -> Counting:
            return self

        def __next__(self) -> os.DirEntry[str]:
            nonlocal seen
            seen += 1
            return next(self.it)

    monkeypatch.setattr(listing.os, "scandir", Counting)
    with pytest.raises(InputError, match="more than 10 files"):
        DirSource(root).files()
    assert seen <= 12  # stopped one entry past the bound, not after 500


def test_folders_nested_past_the_depth_bound_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_REPO_DEPTH", 4)
    root = tmp_path / "r"
    deep = root / "a" / "b" / "c" / "d"
    deep.mkdir(parents=True)
    (deep / "x.yaml").write_text("")
    assert DirSource(root).files() == ["a/b/c/d/x.yaml"]  # 4 levels: at the bound
    (deep / "e").mkdir()
    with pytest.raises(InputError, match="more than 4 levels deep") as e:
        DirSource(root).files()
    assert e.value.location is not None and e.value.location.path == "a/b/c/d/e"


def test_the_default_depth_bound_holds_before_python_recursion_would_fail(tmp_path: Path) -> None:
    root = tmp_path / "r"
    deep = root.joinpath(*["d"] * (limits.MAX_REPO_DEPTH + 1))
    deep.mkdir(parents=True)
    with pytest.raises(InputError, match="levels deep"):
        DirSource(root).files()


def test_a_git_listing_over_the_bound_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "r"
    _tree(root, files=30, folders=2)
    (root / "cfgc.yaml").write_text("version: 1\n")
    git_init(root)
    monkeypatch.setattr(limits, "MAX_REPO_FILES", 31)  # git lists files only
    assert GitSource(root, "HEAD").files() == _walked(root)
    monkeypatch.setattr(limits, "MAX_REPO_FILES", 30)
    with pytest.raises(InputError, match="more than 30 files") as e:
        GitSource(root, "HEAD").files()
    assert e.value.exit_code == EXIT_INVALID


def test_a_git_path_over_the_length_bound_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "r"
    root.mkdir()
    (root / "cfgc.yaml").write_text("version: 1\n")
    (root / ("n" * 200 + ".yaml")).write_text("")
    git_init(root)
    monkeypatch.setattr(limits, "MAX_PATH_BYTES", 100)
    with pytest.raises(InputError, match="longer than 100 bytes"):
        GitSource(root, "HEAD").files()


def test_a_git_listing_over_its_byte_bound_is_refused_as_it_streams(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "r"
    root.mkdir()
    (root / "cfgc.yaml").write_text("version: 1\n")
    for i in range(40):
        (root / f"{'n' * 80}{i}.yaml").write_text("")
    git_init(root)
    assert len(GitSource(root, "HEAD").files()) == 41
    monkeypatch.setattr(limits, "MAX_LISTING_BYTES", 2000)  # 41 entries of about 140 bytes
    with pytest.raises(InputError, match="over 2000 bytes"):
        GitSource(root, "HEAD").files()


def test_a_git_listing_that_does_not_finish_in_time_is_an_external_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cfgc.base.errors import ExternalError
    from cfgc.repo import listing

    stalled = tmp_path / "git"
    stalled.write_text("#!/bin/sh\nsleep 30\n")  # output open, nothing written
    stalled.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    monkeypatch.setattr(limits, "LISTING_SECONDS", 1)
    with pytest.raises(ExternalError, match="timed out after 1 s"):
        listing.ls_tree(str(tmp_path), "0" * 40)


def test_a_target_stacking_more_layers_than_the_bound_fails_at_its_level(
    make_repo: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {f"base/b{i}.yaml": f"k{i}: {i}\n" for i in range(4)}
    files |= {"envs/dev.yaml": "e: 1\n", "tenants/acme/tenant.yaml": "t: 1\n", "tenants/acme/dev/chat.yaml": "s: 1\n"}
    repo = make_repo(files)
    monkeypatch.setattr(limits, "MAX_TARGET_LAYERS", 7)  # 4 + 1 + 1 + the target's own file
    cfgc.build_bundle(repo, tmp_path / "out", cache=False, jobs=1)
    (repo / "base" / "b4.yaml").write_text("k4: 4\n")
    with pytest.raises(InputError, match="stacks more than 7 layer files") as e:
        cfgc.build_bundle(repo, tmp_path / "out2", cache=False, jobs=1)
    assert e.value.exit_code == EXIT_INVALID
    loc = e.value.location
    assert loc is not None and loc.path == "cfgc.yaml" and loc.line is not None
    # The level at which the count crossed the bound: 5 base files, 1 env, then this one.
    assert (repo / "cfgc.yaml").read_text().splitlines()[loc.line - 1].strip() == "- tenants/{tenant}/tenant.yaml"


def test_the_project_corpus_fits_the_bounds() -> None:
    # benchmarks/shards.py: 1,000 tenants x 4 envs x 250 services, one file per target plus a few per tenant.
    assert limits.MAX_REPO_FILES >= 2 * 1_000_000
    assert limits.MAX_TARGET_LAYERS >= 16 and limits.MAX_REPO_DEPTH >= 16


def test_a_git_listing_reads_with_many_descriptors_open(tmp_path: Path) -> None:
    """Waiting for git's output works whatever the descriptor's number (select() stops at 1,024)."""
    import resource

    root = tmp_path / "r"
    root.mkdir()
    (root / "cfgc.yaml").write_text("version: 1\n")
    git_init(root)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip("the descriptor limit is below 1,200")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        assert GitSource(root, "HEAD").files() == ["cfgc.yaml"]
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_one_folder_listed_again_is_held_to_the_listing_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The in-place check lists a changed folder alone: the same bound as a whole listing."""
    from cfgc.repo.sources import folder_entries

    for i in range(12):
        (tmp_path / f"f{i}.yaml").write_text("")
    monkeypatch.setattr(limits, "MAX_REPO_FILES", 12)
    assert len(folder_entries(str(tmp_path))) == 12
    monkeypatch.setattr(limits, "MAX_REPO_FILES", 11)
    with pytest.raises(InputError, match="more than 11 files"):
        folder_entries(str(tmp_path))


def test_a_working_tree_path_over_the_length_bound_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "r"
    (root / "a").mkdir(parents=True)
    (root / "a" / ("n" * 200 + ".yaml")).write_text("")
    monkeypatch.setattr(limits, "MAX_PATH_BYTES", 100)
    with pytest.raises(InputError, match="longer than 100 bytes") as e:
        DirSource(root).files()
    assert e.value.exit_code == EXIT_INVALID


def test_a_working_tree_path_longer_than_the_kernel_takes_is_refused_not_dropped(tmp_path: Path) -> None:
    # Made through descriptors: the whole path is longer than PATH_MAX, which a
    # walk by path could not open (it left the folder out without a word).
    root = tmp_path / "r"
    root.mkdir()
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(limits.MAX_PATH_BYTES // 200 + 1):
            os.mkdir("d" * 200, dir_fd=fd)
            child = os.open("d" * 200, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
        os.close(os.open("x.yaml", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd))
    finally:
        os.close(fd)
    with pytest.raises(InputError, match=f"longer than {limits.MAX_PATH_BYTES} bytes"):
        DirSource(root).files()


@pytest.mark.parametrize("code", [errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.EIO])
def test_a_folder_that_cannot_be_opened_for_want_of_resources_stops_the_listing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    root = tmp_path / "r"
    (root / "tenants" / "acme").mkdir(parents=True)
    (root / "tenants" / "acme" / "x.yaml").write_text("")
    real_open = os.open

    def failing(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if path == "acme":
            raise OSError(code, os.strerror(code))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(listing.os, "open", failing)
    with pytest.raises(ExternalError, match="cannot list the repo folder 'tenants/acme'") as e:
        DirSource(root).files()
    assert e.value.exit_code == EXIT_EXTERNAL


def test_a_folder_that_cannot_be_listed_for_want_of_resources_stops_the_listing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "r"
    (root / "tenants").mkdir(parents=True)
    (root / "tenants" / "x.yaml").write_text("")
    real_scandir = os.scandir

    def failing(fd: Any) -> Any:
        if isinstance(fd, int) and os.fstat(fd).st_ino == (root / "tenants").stat().st_ino:
            raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))
        return real_scandir(fd)

    monkeypatch.setattr(listing.os, "scandir", failing)
    with pytest.raises(ExternalError, match="cannot list the repo folder 'tenants'"):
        DirSource(root).files()


def test_an_unreadable_or_vanished_folder_is_still_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "r"
    (root / "tenants" / "acme").mkdir(parents=True)
    (root / "tenants" / "acme" / "x.yaml").write_text("")
    (root / "cfgc.yaml").write_text("")
    real_open = os.open

    def refusing(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if path == "acme":
            raise OSError(errno.EACCES, os.strerror(errno.EACCES))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(listing.os, "open", refusing)
    assert DirSource(root).files() == ["cfgc.yaml"]
