"""Builds from a poisoned build cache equal ``--no-cache`` builds, byte for byte.

Each case fills a cache with a real build, damages it the way an attacker who
controls the cache directory could (but without the cache key), and builds
again through the real console script: the bundle must equal the one built
without any cache, and stderr must carry exactly one warning line.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path

import pytest

from cfgc.bundle.cache_index import MAGIC

SECRET = "test-cache-secret"


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _env(tmp: Path) -> dict[str, str]:
    return {"CFGC_CACHE_SECRET": SECRET, "XDG_STATE_HOME": str(tmp / "state"), "XDG_CACHE_HOME": str(tmp / "xdg")}


def _resign(cache: Path, edit) -> None:  # type: ignore[no-untyped-def]
    """Rewrite the index with the key: damage that gets past the MAC (a leaked key)."""
    data = (cache / "index").read_bytes()
    doc = json.loads(data.split(b"\n", 2)[2])
    edit(doc)
    body = json.dumps(doc).encode()
    key = hashlib.sha256(b"cfgc build cache\0" + SECRET.encode()).digest()
    (cache / "index").write_bytes(MAGIC + hmac.new(key, body, hashlib.sha256).hexdigest().encode() + b"\n" + body)


def _blobs(cache: Path) -> list[Path]:
    return sorted(p for p in (cache / "blobs").iterdir() if not p.name.startswith("."))


def _tamper_blob(cache: Path, outside: Path) -> None:
    for blob in _blobs(cache):
        blob.chmod(0o644)
        blob.write_bytes(b'{"model":"attacker"}')


def _tamper_blob_same_size(cache: Path, outside: Path) -> None:
    blob = _blobs(cache)[0]
    data = bytearray(blob.read_bytes())
    data[-2] ^= 1
    os.unlink(blob)
    blob.write_bytes(bytes(data))


def _symlink_blobs(cache: Path, outside: Path) -> None:
    for blob in _blobs(cache):
        blob.unlink()
        blob.symlink_to(outside)


def _symlink_blob_dir(cache: Path, outside: Path) -> None:
    d = outside.parent / "fake-blobs"
    d.mkdir()
    for blob in _blobs(cache):
        (d / blob.name).write_bytes(b"{}")
    os.rename(cache / "blobs", cache / "old-blobs")
    (cache / "blobs").symlink_to(d)


def _traversal(cache: Path, outside: Path) -> None:
    rel = os.path.relpath(outside, cache / "blobs")
    _resign(cache, lambda doc: [v.__setitem__(0, "sha256:" + rel) for v in doc["targets"].values()])


def _traversal_unsigned(cache: Path, outside: Path) -> None:
    data = (cache / "index").read_bytes()
    (cache / "index").write_bytes(data.replace(b'"sha256:', b'"sha256:../../../..', 1))


def _other_blob(cache: Path, outside: Path) -> None:
    # A consistent forgery: the entry names another genuine blob.  Only the
    # MAC can tell; without the key it does not verify.
    data = (cache / "index").read_bytes()
    head, body = data.split(b"\n", 2)[:2], data.split(b"\n", 2)[2]
    doc = json.loads(body)
    digests = [v[0] for v in doc["targets"].values()]
    for v, d in zip(doc["targets"].values(), digests[1:] + digests[:1], strict=True):
        v[0] = d
    (cache / "index").write_bytes(b"\n".join(head) + b"\n" + json.dumps(doc).encode())


def _garbage(cache: Path, outside: Path) -> None:
    (cache / "index").write_bytes(os.urandom(5000))


def _truncated(cache: Path, outside: Path) -> None:
    data = (cache / "index").read_bytes()
    (cache / "index").write_bytes(data[: len(data) // 2])


def _fifo_index(cache: Path, outside: Path) -> None:
    (cache / "index").unlink()
    os.mkfifo(cache / "index")


def _fifo_blob(cache: Path, outside: Path) -> None:
    blob = _blobs(cache)[0]
    blob.unlink()
    os.mkfifo(blob)


def _folder_blob(cache: Path, outside: Path) -> None:
    blob = _blobs(cache)[0]
    blob.unlink()
    blob.mkdir()


def _oversize_blob(cache: Path, outside: Path) -> None:
    blob = _blobs(cache)[0]
    blob.unlink()
    with open(blob, "wb") as f:
        f.truncate(1 << 32)  # sparse: reading it whole would take 4 GiB


def _malformed_entries(cache: Path, outside: Path) -> None:
    _resign(cache, lambda doc: doc["targets"].update({k: [1, "x"] for k in doc["targets"]}))


POISONS = [_tamper_blob, _tamper_blob_same_size, _symlink_blobs, _symlink_blob_dir, _traversal,
           _traversal_unsigned, _other_blob, _garbage, _truncated, _fifo_index, _malformed_entries,
           _fifo_blob, _folder_blob, _oversize_blob]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, example: Path) -> tuple[Path, Path]:
    """A signing key and the signed bundle of the example repo built without a cache."""
    tmp = tmp_path_factory.mktemp("ref")
    import subprocess

    from tests.fixtures.repos import cfgc_bin

    def run(*args: str) -> None:
        subprocess.run([*cfgc_bin(), *args], check=True, capture_output=True, env={**os.environ, **_env(tmp)})

    run("keys", "generate", str(tmp / "signing"))
    run("build", "--repo", str(example), "--out", str(tmp / "ref"), "--no-cache", "--sign-key", str(tmp / "signing.key"))
    return tmp / "signing.key", tmp / "ref"


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import shutil

    from tests.fixtures.repos import EXAMPLE

    dest = tmp_path_factory.mktemp("example") / "repo"
    shutil.copytree(EXAMPLE, dest)
    return dest


@pytest.mark.parametrize("poison", POISONS, ids=lambda f: f.__name__.strip("_"))
def test_poisoned_cache_gives_the_no_cache_bundle(poison, reference, example: Path, run_cfgc, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key, ref = reference
    env = _env(tmp_path)
    cache = tmp_path / "cache"
    outside = tmp_path / "outside.txt"
    outside.write_text('{"CANARY-outside":1}')
    fill = run_cfgc("build", "--repo", example, "--out", tmp_path / "fill", "--cache-dir", cache, env=env)
    assert fill.returncode == 0, fill.stderr
    poison(cache, outside)
    out = tmp_path / "out"
    r = run_cfgc("build", "--repo", example, "--out", out, "--cache-dir", cache, "--sign-key", key, env=env)
    assert r.returncode == 0, r.stderr
    warnings = [line for line in r.stderr.splitlines() if line.startswith("warning: build cache at")]
    assert len(warnings) == 1 and "is corrupt (" in warnings[0] and warnings[0].endswith("; rebuilding"), r.stderr
    assert _files(out) == _files(ref)  # every file, signatures included
    assert run_cfgc("verify", out, "--key", key.with_suffix(".pub"), env=env).returncode == 0
    # The damage is repaired: the next build is warm and quiet.
    again = run_cfgc("build", "--repo", example, "--out", tmp_path / "again", "--cache-dir", cache, env=env)
    assert again.returncode == 0 and "warning" not in again.stderr, again.stderr
    assert "from cache" in again.stdout
    again_files = _files(tmp_path / "again")
    assert again_files == {k: v for k, v in _files(ref).items() if k in again_files}
    assert "manifest.json" in again_files


def test_committed_cache_in_the_repo_is_not_used(example: Path, run_cfgc, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = _env(tmp_path)
    committed = example / ".cfgc" / "cache"
    committed.mkdir(parents=True, exist_ok=True)
    (committed / "index").write_bytes(os.urandom(100))
    r = run_cfgc("build", "--repo", example, "--out", tmp_path / "out", env=env)
    assert r.returncode == 0 and "warning" not in r.stderr, r.stderr
    caches = list((tmp_path / "xdg" / "cfgc").iterdir())
    assert len(caches) == 1 and (caches[0] / "index").is_file()
    assert (caches[0] / ".gitignore").read_text().splitlines()[-1] == "*"


def test_cache_dir_inside_a_git_repo_is_ignored_by_git(example: Path, run_cfgc, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.fixtures.repos import git, git_init

    repo = tmp_path / "repo"
    import shutil

    shutil.copytree(example, repo)
    git_init(repo)
    r = run_cfgc("build", "--repo", repo, "--out", tmp_path / "out", "--cache-dir", repo / "build-cache", env=_env(tmp_path))
    assert r.returncode == 0, r.stderr
    assert (repo / "build-cache" / "index").is_file()
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""
