"""FolderWriter writes what write_file writes, with the same refusals, and
keeps at most one folder open."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfgc.base.errors import InputError
from cfgc.bundle.folder_writer import FolderWriter
from cfgc.bundle.layout import write_file


def _tree(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(root)): (p.read_bytes(), stat.S_IMODE(p.lstat().st_mode))
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


_names = st.sampled_from(["a", "b", "c.json", "t-1"])
_rels = st.lists(_names, min_size=1, max_size=3).map("/".join)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_rels, st.binary(max_size=40), st.sampled_from([0o644, 0o444])), max_size=25))
def test_same_files_as_write_file_in_any_order(tmp_path_factory: pytest.TempPathFactory, writes) -> None:
    # A name that is a folder for one write and a file for another fails the
    # same way both ways (the outcome, not only the files, is compared).
    a, b = tmp_path_factory.mktemp("a"), tmp_path_factory.mktemp("b")
    before = _open_fds()
    got, want = [], []
    with FolderWriter(a) as w:
        for rel, data, mode in writes:
            try:
                got.append(os.path.relpath(w.write(rel, data, mode), a))
            except OSError as e:
                got.append(type(e).__name__)
    for rel, data, mode in writes:
        try:
            want.append(os.path.relpath(write_file(b, rel, data, mode), b))
        except OSError as e:
            want.append(type(e).__name__)
    assert got == want
    assert _tree(a) == _tree(b)
    assert _open_fds() == before


def test_a_run_of_one_folder_keeps_it_open_and_only_one(tmp_path: Path) -> None:
    before = _open_fds()
    w = FolderWriter(tmp_path)
    w.write("targets/t/x.json", b"1")
    assert _open_fds() == before  # one file in a folder: written by path
    w.write("targets/t/y.json", b"2")
    assert _open_fds() == before + 1
    w.write("targets/u/z.json", b"3")
    w.write("targets/u/w.json", b"4")
    assert _open_fds() == before + 1  # never more than one folder open
    w.close()
    assert _open_fds() == before
    assert sorted(_tree(tmp_path)) == ["targets/t/x.json", "targets/t/y.json", "targets/u/w.json", "targets/u/z.json"]


@pytest.mark.parametrize("rel", ["../x.json", "/etc/x.json", "targets/../x.json", "targets//x.json", "targets/./x"])
def test_paths_that_leave_the_bundle_are_refused(tmp_path: Path, rel: str) -> None:
    staging = tmp_path / "staging"
    staging.mkdir()
    with FolderWriter(staging) as w:
        for _ in range(2):  # by path, then through an open folder
            with pytest.raises(InputError):
                w.write(rel, b"{}")
    assert not list(tmp_path.rglob("*.json"))


def test_a_linked_folder_is_refused_either_way(tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    (staging / "targets").mkdir(parents=True)
    (staging / "out").symlink_to(tmp_path)
    with FolderWriter(staging) as w:
        w.write("targets/a.json", b"{}")
        w.write("targets/b.json", b"{}")  # "targets" is held open now
        for _ in range(2):
            with pytest.raises(InputError):
                w.write("out/x.json", b"{}")
    assert not (tmp_path / "x.json").exists()


def test_the_file_itself_is_never_a_link(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "b.json").symlink_to(tmp_path / "victim")
    with FolderWriter(tmp_path) as w:
        w.write("t/a.json", b"{}")
        with pytest.raises(OSError):
            w.write("t/b.json", b"{}")
    assert not (tmp_path / "victim").exists()


def test_a_failed_open_names_the_whole_path_as_write_file_does(tmp_path: Path) -> None:
    (tmp_path / "targets" / "acme" / "b.json").mkdir(parents=True)  # a folder where the file goes
    writer = FolderWriter(tmp_path)
    writer.write("targets/acme/a.json", b"x")
    writer.write("targets/acme/a2.json", b"x")  # the folder is now held open
    with pytest.raises(OSError) as e:
        writer.write("targets/acme/b.json", b"x")
    writer.close()
    assert e.value.filename == f"{tmp_path}/targets/acme/b.json"
