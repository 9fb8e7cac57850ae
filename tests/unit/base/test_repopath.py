"""cfgc.base.repopath: the one containment helper every reader calls."""

import os
from pathlib import Path

import pytest

from cfgc.base.errors import InputError
from cfgc.base.repopath import (
    MAX_SEGMENT,
    MAX_TARGET,
    NotFound,
    inside,
    read_under,
    relative_problem,
    segment_problem,
    target_name_problem,
)


@pytest.mark.parametrize("value", ["acme", "prod-eu", "v1.2", "_x", "0", "a..b", "A_b-c.d"])
def test_safe_segments_pass(value: str) -> None:
    assert segment_problem(value) is None


@pytest.mark.parametrize("value", ["", ".", "..", ".hidden", "-x", "a/b", "*", "a*", "a?", "[a]", "{a}", "a b",
                                   "a\\b", "é", "a\0b", "a:b"])
def test_unsafe_segments_fail(value: str) -> None:
    assert segment_problem(value) is not None


def test_segment_and_target_limits() -> None:
    assert segment_problem("a" * MAX_SEGMENT) is None
    assert "limit" in (segment_problem("a" * (MAX_SEGMENT + 1)) or "")
    long = "/".join(["a" * 100] * 11)
    assert len(long) > MAX_TARGET
    assert "limit" in (target_name_problem(long) or "")


@pytest.mark.parametrize("name", ["../x", "a/../b", "/abs", "a//b", "a/", "a/./b", "a/*", "x/.."])
def test_target_names_that_leave_or_glob_fail(name: str) -> None:
    assert target_name_problem(name) is not None


def test_target_names_with_segments_pass() -> None:
    assert target_name_problem("acme/prod/chat") is None


@pytest.mark.parametrize("path", ["", "/etc/passwd", "../x", "a/../../b", "a//b", "./a", "a/.", "a\0b"])
def test_relative_problem_refuses_escapes(path: str) -> None:
    assert relative_problem(path) is not None


def test_relative_problem_accepts_repo_paths() -> None:
    assert relative_problem("tenants/acme/prod/services/chat.yaml") is None
    assert relative_problem("odd name (1).yaml") is None  # repo files are not held to the name grammar


def test_read_under_reads_a_regular_file(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "c.yaml").write_bytes(b"x: 1\n" * 10000)
    assert read_under(str(tmp_path), "a/b/c.yaml") == b"x: 1\n" * 10000


def test_read_under_refuses_a_file_link_even_inside(tmp_path: Path) -> None:
    (tmp_path / "real.yaml").write_text("x: 1\n")
    (tmp_path / "alias.yaml").symlink_to("real.yaml")
    with pytest.raises(InputError) as info:
        read_under(str(tmp_path), "alias.yaml")
    assert str(info.value) == "alias.yaml: error: the file is a symbolic link; cfgc does not follow links"


def test_read_under_refuses_a_folder_link_on_the_way(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.json").write_text("{}")
    root = tmp_path / "repo"
    (root / "a").mkdir(parents=True)
    (root / "a" / "linked").symlink_to(outside)
    with pytest.raises(InputError) as info:
        read_under(str(root), "a/linked/secret.json")
    assert str(info.value) == "a/linked/secret.json: error: a/linked is a symbolic link; cfgc does not follow links"


@pytest.mark.parametrize("rel", ["../outside/secret.json", "/etc/passwd", "a/../../outside/secret.json"])
def test_read_under_refuses_paths_that_leave(tmp_path: Path, rel: str) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.json").write_text("{}")
    (tmp_path / "repo" / "a").mkdir(parents=True)
    with pytest.raises(InputError) as info:
        read_under(str(tmp_path / "repo"), rel)
    assert not isinstance(info.value, NotFound)


def test_read_under_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        read_under(str(tmp_path), "nope/x.yaml")
    (tmp_path / "file").write_text("")
    with pytest.raises(NotFound):
        read_under(str(tmp_path), "file/x.yaml")  # a file where a folder should be


def test_read_under_refuses_a_fifo_without_hanging(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.yaml")
    with pytest.raises(InputError) as info:
        read_under(str(tmp_path), "pipe.yaml")
    assert "not a regular file" in info.value.message


def test_inside_resolves_links(tmp_path: Path) -> None:
    (tmp_path / "root" / "sub").mkdir(parents=True)
    (tmp_path / "root" / "out").symlink_to(tmp_path)
    assert inside(str(tmp_path / "root"), str(tmp_path / "root" / "sub" / "x"))
    assert not inside(str(tmp_path / "root"), str(tmp_path / "root" / "out" / "x"))
    assert not inside(str(tmp_path / "root"), str(tmp_path / "root-sibling"))


def test_tree_keeps_a_bounded_number_of_folders_open(tmp_path: Path) -> None:
    from cfgc.base.repopath import Tree

    for i in range(4):
        (tmp_path / f"d{i}" / "x").mkdir(parents=True)
        (tmp_path / f"d{i}" / "x" / "f.yaml").write_text(f"n: {i}\n")
    tree = Tree(str(tmp_path), max_open=2)
    for _ in range(2):
        for i in range(4):
            assert tree.read(f"d{i}/x/f.yaml") == f"n: {i}\n".encode()
            assert len(tree._dirs) <= 2
    # a folder replaced by a link after it was opened: a new read of another folder still refuses the link
    (tmp_path / "d9").symlink_to(tmp_path / "d0")
    with pytest.raises(InputError):
        tree.read("d9/x/f.yaml")
    tree.close()
    assert tree._dirs == {}
