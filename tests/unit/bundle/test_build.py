"""cfgc.bundle.build.build_bundle: provenance inputs, signing before the swap, leftovers of dead builds."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from pathlib import Path

import pytest

from cfgc.base import parallel
from cfgc.base.errors import ExternalError, UsageError
from cfgc.bundle import pipeline
from cfgc.bundle.attest import PROVENANCE, SIGNATURE, verify_bundle
from cfgc.bundle.build import build_bundle, refuse_own_files
from cfgc.bundle.cache import BuildCache
from cfgc.bundle.signing import generate_keypair, load_signer, load_verifier
from cfgc.repo.inputs import ReadLog
from cfgc.repo.sources import DirSource
from tests.fixtures.repos import GRID_CONFIG

CONFIG = GRID_CONFIG
DEAD_PID = 4_194_399  # above Linux's largest pid_max: never a live process


@pytest.fixture
def repo(make_repo, tmp_path: Path) -> Path:
    files = {
        "base/a.yaml": "limits: {rpm: 10}\np: !prompt hi@^1\n",
        "envs/dev.yaml": "limits: {rpm: 20}\n",
        "envs/prod.yaml": "limits: {rpm: 30}\n",
        "schemas/s.json": json.dumps({"type": "object"}),
        "prompts/hi/1.0.0.j2": "hi {{ name }}\n",
        "notes/unrelated.txt": "not read by the compile\n",
    }
    for env in ("dev", "prod"):
        for i in range(3):
            files[f"svc/{env}/s{i}.yaml"] = f"id: {i}\n"
    return make_repo(files, config=CONFIG)


def keypair(where: Path) -> tuple[Path, Path]:
    return generate_keypair(where)


def deps(bundle: Path) -> dict[str, str]:
    env = json.loads((bundle / PROVENANCE).read_text())
    stmt = json.loads(base64.b64decode(env["payload"]))
    return {d["uri"]: d["digest"].get("sha256", "") for d in stmt["predicate"]["buildDefinition"]["resolvedDependencies"]
            if d["uri"].startswith("file:")}


def signed_build(root: Path, out: Path, key: Path, **kw):
    return build_bundle(DirSource(root), out, signers=[load_signer(key)], key_files=[key], **kw)


def test_provenance_inputs_are_the_files_read_not_the_out_dir_or_key(repo: Path) -> None:
    key, pub = keypair(repo / "release")
    out = repo / "build" / "bundle"
    for _ in range(3):  # the previous bundle and its signatures sit in the tree from the 2nd run on
        done = signed_build(repo, out, key)
        assert done.written
    verify_bundle(out, [load_verifier(pub)])
    listed = deps(out)
    expected = {"cfgc.yaml", "base/a.yaml", "envs/dev.yaml", "envs/prod.yaml", "schemas/s.json",
                "prompts/hi/1.0.0.j2", *(f"svc/{e}/s{i}.yaml" for e in ("dev", "prod") for i in range(3))}
    assert {u.removeprefix("file:") for u in listed} == expected
    for uri, digest in listed.items():  # each digest is of the bytes on disk
        assert hashlib.sha256((repo / uri.removeprefix("file:")).read_bytes()).hexdigest() == digest


def test_inputs_same_cold_warm_and_parallel(repo: Path, tmp_path: Path, monkeypatch) -> None:
    key, _ = keypair(tmp_path / "k")
    cache = tmp_path / "cache"
    signed_build(repo, tmp_path / "cold", key, cache=BuildCache(cache))
    warm = signed_build(repo, tmp_path / "warm", key, cache=BuildCache(cache))
    assert warm.result.cache_hits == 6  # every target came from the cache, its layers unparsed
    monkeypatch.setattr(parallel, "PARALLEL_MIN_TARGETS", 1)
    monkeypatch.setattr(pipeline, "CHUNK", 1)
    signed_build(repo, tmp_path / "par", key, jobs=2)  # layers read in forked workers
    assert deps(tmp_path / "cold") == deps(tmp_path / "warm") == deps(tmp_path / "par")
    assert (tmp_path / "cold" / PROVENANCE).read_bytes() == (tmp_path / "par" / PROVENANCE).read_bytes()


class FailingSigner:
    keyid = "sha256:broken"

    def sign(self, data: bytes) -> bytes:
        raise ExternalError("KMS unreachable")


def test_signing_failure_leaves_previous_bundle(repo: Path, tmp_path: Path) -> None:
    key, _ = keypair(tmp_path / "k")
    out = tmp_path / "out"
    signed_build(repo, out, key)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    (repo / "envs/dev.yaml").write_text("limits: {rpm: 21}\n")
    with pytest.raises(ExternalError, match="KMS unreachable"):
        build_bundle(DirSource(repo), out, signers=[FailingSigner()])
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".out")) == []


def test_unsigned_build_writes_no_signature(repo: Path, tmp_path: Path) -> None:
    done = build_bundle(DirSource(repo), tmp_path / "out")
    assert done.written and not (tmp_path / "out" / SIGNATURE).exists()


def test_stale_leftovers_of_dead_builds_are_removed(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    dead_tmp = tmp_path / f".out.tmp-{DEAD_PID}-abc123"
    dead_old = tmp_path / f".out.old-{DEAD_PID}"
    live_tmp = tmp_path / f".out.tmp-{os.getppid()}-xyz"  # pytest's parent: alive
    legacy_old = tmp_path / ".out.tmp-q7w8e9r0"  # no pid (older cfgc, cfgc pull)
    legacy_new = tmp_path / ".out.tmp-a1s2d3f4"
    for d in (dead_tmp, dead_old, live_tmp, legacy_old, legacy_new):
        (d / "targets").mkdir(parents=True)
        (d / "targets" / "x.json").write_text("{}")
    hour_ago = time.time() - 2 * 3600
    os.utime(legacy_old, (hour_ago, hour_ago))
    build_bundle(DirSource(repo), out)
    left = {p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")}
    assert left == {live_tmp.name, legacy_new.name}


def test_refuses_to_sign_a_read_key_or_out_file(tmp_path: Path) -> None:
    src = DirSource(tmp_path)
    out, key = tmp_path / "build" / "bundle", tmp_path / "keys" / "k.key"
    ok = {"cfgc.yaml": "sha256:1", "base/a.yaml": "sha256:2", "build/other.yaml": "sha256:3"}
    refuse_own_files(ok, src, out, [key])
    for bad in ("build/bundle/targets/a.json", "keys/k.key", "build/.bundle.tmp-12-ab/x.yaml"):
        with pytest.raises(UsageError, match="is an input of this build"):
            refuse_own_files({**ok, bad: "sha256:4"}, src, out, [key])


def test_read_log_refuses_a_file_that_changed_between_reads() -> None:
    log = ReadLog()
    log.record("a.yaml", b"x: 1\n")
    log.record("a.yaml", b"x: 1\n")
    with pytest.raises(ExternalError, match="a.yaml changed while cfgc was building"):
        log.record("a.yaml", b"x: 2\n")


def test_cached_layer_that_changed_since_the_cache_key_fails(repo: Path, tmp_path: Path, monkeypatch) -> None:
    key, _ = keypair(tmp_path / "k")
    cache = tmp_path / "cache"
    # Files changed within 2 s of a build are hashed afresh (and that read is
    # logged); only older ones are known to the cache by their stat alone.
    time.sleep(2.1)
    signed_build(repo, tmp_path / "cold", key, cache=BuildCache(cache))
    warm = BuildCache(cache)
    real = warm.file_digest
    calls: list[str] = []

    def keyed_on_other_bytes(source, path):
        # The key is made from the real bytes; later the file reads differently,
        # as if it changed after the cache lookup.
        calls.append(path)
        d = real(source, path)
        return hashlib.sha256(b"other").hexdigest() if calls.count(path) > 1 and path == "svc/dev/s1.yaml" else d

    monkeypatch.setattr(warm, "file_digest", keyed_on_other_bytes)
    with pytest.raises(ExternalError, match="svc/dev/s1.yaml changed while cfgc was building"):
        signed_build(repo, tmp_path / "warm", key, cache=warm)
    assert not (tmp_path / "warm").exists()
