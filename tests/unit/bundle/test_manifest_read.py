"""OUT's manifest read and hashed on another thread (cfgc/bundle/outcheck.py: ManifestRead).

The threaded read answers what the reading it replaced answered: the bytes
and their sha256 for a regular file within bounds, None for what is not one
(a symlink, a FIFO, a missing file), and an unexpected error is raised in the
thread that waits.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from cfgc.bundle import outcheck
from cfgc.bundle.manifest import MANIFEST


def test_bytes_and_digest_of_a_regular_file(tmp_path: Path) -> None:
    data = os.urandom(70_000)
    (tmp_path / MANIFEST).write_bytes(data)
    assert outcheck.ManifestRead(tmp_path).result() == (data, "sha256:" + hashlib.sha256(data).hexdigest())


@pytest.mark.parametrize("kind", ["missing", "symlink", "fifo", "folder"])
def test_none_for_what_is_not_a_regular_manifest(tmp_path: Path, kind: str) -> None:
    (tmp_path / "real.json").write_bytes(b"{}")
    if kind == "symlink":
        (tmp_path / MANIFEST).symlink_to(tmp_path / "real.json")
    elif kind == "fifo":
        os.mkfifo(tmp_path / MANIFEST)  # never blocks: opened non-blocking, refused as not regular
    elif kind == "folder":
        (tmp_path / MANIFEST).mkdir()
    assert outcheck.ManifestRead(tmp_path).result() is None


def test_a_bound_over_the_limit_is_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outcheck, "MAX_MANIFEST_BYTES", 10)
    (tmp_path / MANIFEST).write_bytes(b"x" * 11)
    assert outcheck.ManifestRead(tmp_path).result() is None


def test_an_unexpected_error_is_raised_in_the_waiting_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(path: str, limit: int) -> bytes:
        raise RuntimeError("boom")

    monkeypatch.setattr(outcheck, "_read", broken)
    with pytest.raises(RuntimeError, match="boom"):
        outcheck.ManifestRead(tmp_path).result()
