"""cfgc.bundle.merge_files: a part file is hard-linked only when nobody else can change it afterwards."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cfgc.base.canonical import sha256_digest
from cfgc.bundle.merge_files import LINKED_MODE, place

DATA = b'{"a":1}'


def _setup(tmp_path: Path, mode: int = 0o644) -> tuple[Path, Path]:
    part, staging = tmp_path / "part", tmp_path / "staging"
    (part / "targets").mkdir(parents=True)
    staging.mkdir()
    (part / "targets" / "t.json").write_bytes(DATA)
    os.chmod(part / "targets" / "t.json", mode)
    return part, staging


def _place(part: Path, staging: Path, digest: str = sha256_digest(DATA)) -> tuple[bool, list[str]]:
    problems: list[str] = []
    linked = place(str(part), "targets/t.json", digest, len(DATA), str(staging), os.stat(staging).st_dev,
                   problems, True)
    return linked, problems


def test_own_file_is_linked_and_made_read_only(tmp_path: Path) -> None:
    part, staging = _setup(tmp_path)
    linked, problems = _place(part, staging)
    assert linked and problems == []
    src, dest = os.stat(part / "targets" / "t.json"), os.stat(staging / "targets" / "t.json")
    assert (src.st_ino, src.st_nlink) == (dest.st_ino, 2)
    assert stat.S_IMODE(dest.st_mode) == LINKED_MODE
    assert (staging / "targets" / "t.json").read_bytes() == DATA


def test_group_writable_or_already_linked_file_is_copied(tmp_path: Path) -> None:
    part, staging = _setup(tmp_path, 0o664)
    linked, problems = _place(part, staging)
    assert not linked and problems == []
    assert os.stat(staging / "targets" / "t.json").st_ino != os.stat(part / "targets" / "t.json").st_ino
    # A second link elsewhere: someone may hold a way to write it that the merge cannot see.
    part2, staging2 = _setup(tmp_path / "b")
    os.link(part2 / "targets" / "t.json", tmp_path / "b" / "elsewhere")
    linked, problems = _place(part2, staging2)
    assert not linked and problems == []
    assert (staging2 / "targets" / "t.json").read_bytes() == DATA


def test_digest_is_checked_on_the_linked_inode(tmp_path: Path) -> None:
    part, staging = _setup(tmp_path)
    _, problems = _place(part, staging, digest=sha256_digest(b"other"))
    assert len(problems) == 1 and "digest" in problems[0]
