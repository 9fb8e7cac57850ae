"""cfgc's own state files (journal, runtime cache, serial state, bundle parts, OUT's manifest):
a FIFO planted where one is read is refused at once with the reader's error, never waited on."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from cfgc.base.bounded_read import NotRegular, read_capped
from cfgc.base.errors import EXIT_INTEGRITY
from cfgc.bundle import journal, part_doc
from cfgc.bundle.shard import PART
from cfgc.runtime.cache import BundleCache, CacheError
from cfgc.runtime.serials import SerialState, StateFileError
from tests.fixtures.files import no_hang

DIGEST = "sha256:" + "ab" * 32


def test_read_capped_reads_at_most_one_byte_past_the_cap(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    assert read_capped(path, 100) == b"x" * 100
    assert read_capped(path, 40) == b"x" * 41  # over the cap: the caller sees len > cap
    os.symlink(path, tmp_path / "link")
    assert read_capped(tmp_path / "link", 100) == b"x" * 100
    with pytest.raises(OSError):
        read_capped(tmp_path / "link", 100, follow_links=False)


def test_read_capped_refuses_a_fifo_and_a_device_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    os.symlink("/dev/zero", tmp_path / "zero")
    with no_hang(5):
        for name in ("pipe", "zero"):
            with pytest.raises(NotRegular, match="not a regular file"):
                read_capped(tmp_path / name, 1 << 20)


def test_a_fifo_journal_is_not_cfgcs_and_is_removed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    cdir = journal.commit_dir(out)
    cdir.mkdir()
    os.mkfifo(cdir / journal.JOURNAL)
    with no_hang(5):
        assert journal.recover(out) is False
    assert not cdir.exists()


def test_a_fifo_runtime_state_file_is_a_cache_error(tmp_path: Path) -> None:
    cache = BundleCache(tmp_path, "file:///s", "prod", ())
    cache.state_path.parent.mkdir(parents=True)
    os.mkfifo(cache.state_path)
    with no_hang(5), pytest.raises(CacheError, match="not a regular file") as e:
        cache.read_state()
    assert e.value.exit_code == EXIT_INTEGRITY


def test_a_fifo_runtime_blob_is_a_miss_and_removed(tmp_path: Path) -> None:
    cache = BundleCache(tmp_path, "file:///s", "prod", ())
    blob = tmp_path / "blobs" / "sha256" / DIGEST[7:]
    blob.parent.mkdir(parents=True)
    os.mkfifo(blob)
    with no_hang(5):
        assert cache.blob(DIGEST) is None
    assert cache.corrupt_blobs == 1 and not os.path.lexists(blob)


def test_a_fifo_serial_state_file_is_refused_not_reset(tmp_path: Path) -> None:
    path = tmp_path / "serials.json"
    os.mkfifo(path)
    with no_hang(5), pytest.raises(StateFileError, match="not a regular file") as e:
        SerialState(path).seen("repo", "prod")
    assert e.value.exit_code == EXIT_INTEGRITY


@pytest.mark.parametrize("kind", ["fifo", "symlink"])
def test_a_part_file_swapped_after_its_lstat_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    root = tmp_path / "part"
    root.mkdir()
    (tmp_path / "real.json").write_text(json.dumps({"format": "x"}))
    regular = os.stat(tmp_path / "real.json")
    if kind == "fifo":
        os.mkfifo(root / PART)
    else:
        os.symlink(tmp_path / "real.json", root / PART)
    real_lstat = os.lstat

    def lstat_before_the_swap(path: object, *a: object, **k: object) -> os.stat_result:
        # The check saw a regular file; the open then finds what was swapped in.
        return regular if str(path) == str(root / PART) else real_lstat(path, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(part_doc.os, "lstat", lstat_before_the_swap)
    assert stat.S_ISREG(part_doc.os.lstat(root / PART).st_mode)
    with no_hang(5), pytest.raises(part_doc.IntegrityError, match="not a regular file") as e:
        part_doc.load_part(root)
    assert e.value.exit_code == EXIT_INTEGRITY
