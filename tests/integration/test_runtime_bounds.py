"""``cfgc pull`` against hostile stores (file and moto S3): bombs end in exit 5 with bounded memory.

The pull runs in a child of a small wrapper that reports the child's peak RSS
(``getrusage(RUSAGE_CHILDREN).ru_maxrss``), so other processes of the test
session do not count.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from cfgc.bundle.signing import load_signer
from cfgc.stores import open_store
from cfgc.stores.base import Store
from tests.fixtures.repos import cfgc_bin
from tests.unit.runtime.bundles import Publisher
from tests.unit.runtime.tamper import gzip_zeros, publish_forged_digest, swap_layer

pytestmark = pytest.mark.integration
T = "acme/prod/big"
PAD = 2_000_000  # a 2 MB signed target: its blob may take ~2 MB
RSS_LIMIT_KB = 200 * 1024  # generous: the bombs below inflate to 1.5 GiB and 16 GiB
WRAP = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
        "sys.stderr.write(r.stderr); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)")


def pull(*args: str | Path) -> tuple[int, int, str]:
    """(exit code, peak RSS in KiB, stderr) of one ``cfgc pull``."""
    r = subprocess.run([sys.executable, "-c", WRAP, *cfgc_bin(), "pull", *map(str, args)],
                       capture_output=True, text=True, timeout=300, env=os.environ.copy())
    return r.returncode, int(r.stdout.strip().splitlines()[-1]), r.stderr


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return gzip_zeros(1536 << 20)  # 1.6 MB of gzip


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "file":
        return open_store(f"file://{tmp_path / 'store'}")
    import boto3

    request.getfixturevalue("aws_env")
    mp = request.getfixturevalue("monkeypatch")
    mp.setenv("AWS_ENDPOINT_URL_S3", request.getfixturevalue("moto_server"))
    bucket = f"cfgc-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    return open_store(f"s3://{bucket}/bundles")


def _both_pulls(store: Store, pub_key: Path, tmp: Path) -> list[tuple[int, int, str]]:
    runtime = pull("--from", store.url, "--channel", "prod", "--target", T, "--key", pub_key,
                   "--secrets", "refs", "--cache-dir", tmp / "cache")
    bundle = pull("prod", "--from", store.url, "--out", tmp / "out", "--key", pub_key)
    return [runtime, bundle]


@pytest.mark.parametrize("kind", ["bomb", "oversized"])
def test_bombs_end_in_exit_5_with_bounded_memory(store: Store, kind: str, bomb: bytes, signing_key,
                                                  tmp_path: Path) -> None:
    pub = Publisher(store, tmp_path, load_signer(signing_key[0]))
    v1 = pub.publish({T: {"pad": "a" * PAD, "n": 1}})
    code, _, err = pull("--from", store.url, "--channel", "prod", "--target", T, "--key", signing_key[1],
                        "--secrets", "refs", "--cache-dir", tmp_path / "cache")
    assert code == 0, err
    v2 = pub.publish({T: {"pad": "b" * PAD, "n": 2}})
    # "bomb" fits the blob bound and inflates to 1.5 GiB; "oversized" is ten of them (16 MB of
    # gzip members, 15 GiB inflated): refused while reading.
    swap_layer(store, v2, f"targets/{T}.json", bomb if kind == "bomb" else bomb * 10)
    for code, rss_kb, err in _both_pulls(store, signing_key[1], tmp_path):
        assert code == 5, err
        assert "Traceback" not in err and T in err
        assert ("decompression bomb" if kind == "bomb" else "larger than its limit") in err
        assert rss_kb < RSS_LIMIT_KB, f"pull peaked at {rss_kb} KiB"
    assert not (tmp_path / "out").exists()
    state = json.loads(next((tmp_path / "cache" / "state").glob("*.json")).read_bytes())
    assert state["version"] == v1  # the cache still holds the last good version


def test_traversal_digest_in_a_signed_manifest(store: Store, signing_key, tmp_path: Path) -> None:
    pub = Publisher(store, tmp_path, load_signer(signing_key[0]))
    pub.publish({T: {"pad": "a", "n": 1}})
    cache = tmp_path / "run" / "cache"
    victim = tmp_path / "victim"  # run/cache/blobs/sha256/../../../../victim
    victim.write_text("keep me")
    code, _, err = pull("--from", store.url, "--channel", "prod", "--target", T, "--key", signing_key[1],
                        "--secrets", "refs", "--cache-dir", cache)
    assert code == 0, err
    publish_forged_digest(store, load_signer(signing_key[0]), "prod", T, "sha256:../../../../victim")
    for code, _, err in _both_pulls(store, signing_key[1], tmp_path / "run"):
        assert code == 5 and "not a sha256 digest" in err and "Traceback" not in err, err
    assert victim.read_text() == "keep me"
