"""cfgc.base.bounded_read: one bound for every whole-file read, from fstat, held while reading."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cfgc.base import bounded_read, limits
from cfgc.base.bounded_read import FileTooLarge, NotRegular, read_file, read_open
from cfgc.base.errors import EXIT_INVALID, InputError
from cfgc.base.repopath import Tree, read_under
from tests.fixtures.files import OVER, no_hang, sparse


def test_a_file_over_the_bound_is_refused_from_its_fstat_naming_its_path(tmp_path: Path) -> None:
    sparse(tmp_path / "envs" / "dev.yaml")
    for read in (lambda: read_under(str(tmp_path), "envs/dev.yaml"),
                 lambda: read_file(tmp_path / "envs" / "dev.yaml", "envs/dev.yaml")):
        with pytest.raises(FileTooLarge) as e:
            read()
        assert e.value.exit_code == EXIT_INVALID
        assert str(e.value) == (f"envs/dev.yaml: error: file is {OVER} bytes, over the "
                                f"{limits.MAX_FILE_BYTES}-byte limit for one file cfgc reads")


def test_a_file_at_the_bound_is_read_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_FILE_BYTES", 1000)
    (tmp_path / "a.yaml").write_bytes(b"x" * 1000)
    assert read_under(str(tmp_path), "a.yaml") == b"x" * 1000
    (tmp_path / "a.yaml").write_bytes(b"x" * 1001)
    with pytest.raises(FileTooLarge):
        read_under(str(tmp_path), "a.yaml")


@pytest.mark.parametrize("grown", [1, 5000, 3 << 20])
def test_a_file_that_grows_after_fstat_is_not_read_past_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, grown: int
) -> None:
    bound = 2000
    monkeypatch.setattr(limits, "MAX_FILE_BYTES", bound)
    path = tmp_path / "a.yaml"
    path.write_bytes(b"x" * 100)
    fd = os.open(path, os.O_RDONLY)
    try:
        st = os.fstat(fd)  # what the reader saw: 100 bytes
        with open(path, "ab") as f:  # ... and then the file grows
            f.write(b"y" * (bound - 100 + grown))
        with pytest.raises(FileTooLarge, match="grew past 2000 bytes while read, over the 2000-byte limit"):
            read_open(fd, st, "a.yaml")
        assert os.lseek(fd, 0, os.SEEK_CUR) <= bound + 1  # never read further than one byte past it
    finally:
        os.close(fd)


def test_a_file_that_grows_within_the_bound_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_bytes(b"x" * 100)
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        path.write_bytes(b"z" * (3 << 20))  # same inode, rewritten bigger (over 1 MiB: several reads)
        assert read_open(f.fileno(), st, "a.yaml") == b"z" * (3 << 20)


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.yaml")
    with no_hang():
        with pytest.raises(NotRegular, match="not a regular file"):
            read_file(tmp_path / "pipe.yaml")
        with pytest.raises(InputError, match="not a regular file"):
            read_under(str(tmp_path), "pipe.yaml")


def test_dev_zero_linked_in(tmp_path: Path) -> None:
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    with no_hang():
        # Repo files: the link is refused as every link is, before anything is opened.
        with pytest.raises(InputError, match="symbolic link"):
            read_under(str(tmp_path), "zero.yaml")
        # Paths a user names (links followed): a device is refused, never read forever.
        with pytest.raises(NotRegular):
            read_file(tmp_path / "zero.yaml")


def test_tree_read_stat_is_bounded(tmp_path: Path) -> None:
    sparse(tmp_path / "schemas" / "big.json")
    tree = Tree(str(tmp_path))
    try:
        with pytest.raises(FileTooLarge, match="^schemas/big.json: error: file is"):
            tree.read_stat("schemas/big.json")
    finally:
        tree.close()


def test_one_constant_bounds_git_blobs_too() -> None:
    from cfgc.repo import gitobjects

    assert gitobjects.MAX_BLOB_BYTES == limits.MAX_FILE_BYTES
    assert bounded_read.too_large(7, "x").location is not None
