"""An in-place build hashes its new manifest on a thread and tells "unchanged" from the bytes
(cfgc.bundle.inplace.DigestThread): the digest it answers and records is the sha256 of the
manifest in OUT, and "unchanged" holds exactly when the manifest's bytes did not change."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from cfgc.bundle import inplace, outstate
from cfgc.bundle.cache import BuildCache
from tests.unit.bundle.test_incremental import build, clean, tree
from tests.unit.bundle.test_incremental_noyaml import fresh_kept

__all__ = ["fresh_kept"]

ROOT = Path(__file__).resolve().parents[3]
SERVICE = "tenants/acme/dev/services/chat.yaml"


def on_disk(out: Path) -> str:
    return "sha256:" + hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest()


def test_the_threaded_digest_is_the_manifests_and_unchanged_follows_its_bytes(tmp_path: Path) -> None:
    repo, out, cache = tmp_path / "repo", tmp_path / "out", tmp_path / "cache"
    shutil.copytree(ROOT / "examples/repo", repo, ignore=shutil.ignore_patterns("test-keys-DO-NOT-USE"))
    build(repo, out, cache)
    original = (repo / SERVICE).read_bytes()
    edits = [
        (SERVICE, b"# a comment: compiled again, the same bytes\n"),
        (SERVICE, b"marker_1: 1\n"),
        (SERVICE, b"marker_2: 2\n"),
        (SERVICE, b"# another comment\n"),
        (SERVICE, None),  # back to the first bytes: the manifest changes back
    ]
    seen = []
    for path, added in edits:
        before = (out / "manifest.json").read_bytes()
        if added is None:
            (repo / path).write_bytes(original)
        else:
            with open(repo / path, "ab") as f:
                f.write(added)
        folder = out.stat().st_ino
        done = build(repo, out, cache)
        assert out.stat().st_ino == folder  # updated in place
        assert done.digest == on_disk(out)
        assert done.unchanged == ((out / "manifest.json").read_bytes() == before)
        seen.append(done.unchanged)
        key = BuildCache(cache).key
        assert key is not None
        state = outstate.load(cache, out.resolve(), key)
        assert state is not None and state.manifest == done.digest
        assert tree(out) == clean(repo, tmp_path / "clean")
    assert seen == [True, False, False, True, False]


def test_a_failed_hash_is_raised_in_the_waiting_thread() -> None:
    hashing = inplace.DigestThread(memoryview(b"abc"))  # type: ignore[arg-type]
    assert hashing.result() == "sha256:" + hashlib.sha256(b"abc").hexdigest()
    broken = inplace.DigestThread(12)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        broken.result()
