"""RecordingSource: what a signed build lists as its inputs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from cfgc.base.errors import ExternalError
from cfgc.bundle.cache import BuildCache
from cfgc.repo.inputs import ReadLog, RecordingSource, unwrapped
from cfgc.repo.sources import DirSource


def _tree(tmp_path: Path) -> DirSource:
    (tmp_path / "a.yaml").write_bytes(b"x: 1\n")
    (tmp_path / "b.yaml").write_bytes(b"y: 2\n")
    return DirSource(tmp_path)


def test_records_each_read_with_the_digest_of_the_bytes_read(tmp_path: Path) -> None:
    inner = _tree(tmp_path)
    log = ReadLog()
    src = RecordingSource(inner, log)
    assert src.read("b.yaml") == b"y: 2\n"
    assert src.files() == inner.files() and src.info() == inner.info()
    assert log.digests() == {"b.yaml": "sha256:" + hashlib.sha256(b"y: 2\n").hexdigest()}
    (tmp_path / "b.yaml").write_bytes(b"y: 3\n")
    with pytest.raises(ExternalError, match="b.yaml changed while cfgc was building"):
        src.read("b.yaml")


def test_the_wrapped_source_is_left_as_it_was(tmp_path: Path) -> None:
    inner = _tree(tmp_path)
    log = ReadLog()
    RecordingSource(inner, log)
    inner.read("a.yaml")  # not through the wrapper: not an input
    assert "a.yaml" not in log
    assert "read" not in vars(inner)


def test_the_build_cache_sees_the_working_tree_under_the_wrapper(tmp_path: Path) -> None:
    inner = _tree(tmp_path)
    src = RecordingSource(RecordingSource(inner, ReadLog()), ReadLog())
    assert unwrapped(src) is inner
    cache = BuildCache(tmp_path / ".cache")
    assert cache.file_digest(src, "a.yaml") == hashlib.sha256(b"x: 1\n").hexdigest()
    # Only a working tree keeps the bytes it hashed for the key: the compile's next read
    # through the wrapper gets exactly those (and records them), not the file as it is now.
    (tmp_path / "a.yaml").write_bytes(b"x: 9\n")
    assert src.read("a.yaml") == b"x: 1\n"
    assert src.log.get("a.yaml") == "sha256:" + hashlib.sha256(b"x: 1\n").hexdigest()
