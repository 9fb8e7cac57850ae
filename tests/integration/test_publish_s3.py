"""Publishing to S3 and signing with KMS, against a real moto_server process."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cfgc.bundle.signing import load_signer, load_verifier
from cfgc.stores import open_store
from cfgc.stores.publish import publish
from cfgc.stores.reader import BundleReader
from tests.fixtures.cli import run
from tests.unit.stores.contract import check_store_contract

pytestmark = pytest.mark.integration

CFGC = [sys.executable, "-c", "from cfgc.cli.main import main; main()"]
TARGETS = {f"acme/prod/svc{i}": {"model": f"m{i}", "pad": "z" * 300} for i in range(4)}


@pytest.fixture
def s3_url(aws_env: dict[str, str], moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket on the moto server; boto3 reaches it through AWS_ENDPOINT_URL_S3."""
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_server)
    bucket = f"cfgc-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    return f"s3://{bucket}/bundles"


@pytest.fixture
def kms_arn(aws_env: dict[str, str]) -> str:
    import boto3

    key = boto3.client("kms").create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    return str(key["KeyMetadata"]["Arn"])


def test_s3_store_contract(s3_url: str, make_bundle, signing_key) -> None:
    check_store_contract(open_store(s3_url), make_bundle, load_signer(signing_key[0]))


def test_publish_republish_change_and_pull(s3_url: str, make_bundle, signing_key, tmp_path: Path) -> None:
    key = str(signing_key[0])
    code, out = run("publish", str(make_bundle(TARGETS, name="v1")), "--to", s3_url, "--channel", "prod",
                    "--key", key, "--format", "json")
    assert code == 0, out
    first = json.loads(out)
    assert first["counts"]["uploaded"] == 7 and first["channel"]["serial"] == 1
    code, out = run("publish", str(make_bundle(TARGETS, name="v1b")), "--to", s3_url, "--channel", "prod",
                    "--key", key)
    assert code == 0 and "nothing to upload" in out and "already at" in out
    changed = {**TARGETS, "acme/prod/svc1": {"model": "new", "pad": "z" * 300}}
    code, out = run("publish", str(make_bundle(changed, name="v2")), "--to", s3_url, "--channel", "prod",
                    "--key", key, "--format", "json")
    second = json.loads(out)
    assert [u["path"] for u in second["uploaded"]] == ["manifest.json", "targets/acme/prod/svc1.json",
                                                       "signatures", "version manifest"]
    ch = second["channel"]
    assert {k: ch[k] for k in ("action", "name", "serial", "previous")} == {
        "action": "moved", "name": "prod", "serial": 2, "previous": first["version"]}
    assert ch["repository"] == first["channel"]["repository"] and ch["expires"] > first["channel"]["expires"][:10]
    code, out = run("promote", "--to", s3_url, "--channel", "prod", "--version", first["version"], "--key", key)
    assert code == 0 and "serial 3" in out
    code, out = run("versions", "--from", s3_url, "--format", "json")
    rows = {r["version"]: r["channels"] for r in json.loads(out)}
    assert rows == {first["version"]: ["prod"], second["version"]: []}
    code, out = run("pull", "prod", "--from", s3_url, "--out", str(tmp_path / "p"), "--key", str(signing_key[1]))
    assert code == 0, out
    assert (tmp_path / "p/targets/acme/prod/svc1.json").read_bytes() == (
        make_bundle(TARGETS, name="v1c") / "targets/acme/prod/svc1.json").read_bytes()


def test_conditional_channel_read(s3_url: str, make_bundle, signing_key) -> None:
    store = open_store(s3_url)
    publish(store, make_bundle(TARGETS), "prod", [load_signer(signing_key[0])])
    reader = BundleReader(store, [load_verifier(signing_key[1])])
    state = reader.channel("prod")
    assert state.pointer is not None and state.etag
    again = reader.channel("prod", etag=state.etag)
    assert again.not_modified and again.pointer is None


def test_corrupt_object_exits_5_and_nothing_changes(s3_url: str, make_bundle, signing_key, tmp_path: Path) -> None:
    import boto3

    store = open_store(s3_url)
    r = publish(store, make_bundle(TARGETS), "prod", [load_signer(signing_key[0])])
    bucket, prefix = s3_url.removeprefix("s3://").split("/", 1)
    s3 = boto3.client("s3")
    layer = json.loads(store.get_version(r.version) or b"{}")["layers"][0]["digest"].split(":")[1]
    s3.put_object(Bucket=bucket, Key=f"{prefix}/blobs/sha256/{layer}", Body=b"garbage")
    code, out = run("pull", r.version, "--from", s3_url, "--out", str(tmp_path / "p"))
    assert code == 5 and "corrupt" in out and "Traceback" not in out
    assert not (tmp_path / "p").exists()


def test_concurrent_publishers_race_on_conditional_writes(s3_url: str, make_bundle, signing_key) -> None:
    signer = load_signer(signing_key[0])
    bundles = [make_bundle({"a/b/c": {"n": i}}, name=f"c{i}") for i in range(6)]
    with ThreadPoolExecutor(6) as pool:
        reports = list(pool.map(lambda b: publish(open_store(s3_url), b, "prod", [signer]), bundles))
    store = open_store(s3_url)
    assert sorted(store.list_versions()) == sorted(r.version for r in reports)
    pointer = BundleReader(store, [load_verifier(signing_key[1])]).channel("prod").pointer
    assert pointer is not None and pointer.serial == 6  # every move counted: no lost update
    assert sorted(r.channel.pointer.serial for r in reports if r.channel) == list(range(1, 7))


def test_kms_sign_verify_and_channel(s3_url: str, kms_arn: str, make_bundle, tmp_path: Path) -> None:
    b = make_bundle(TARGETS, sign=False)
    code, out = run("sign", str(b), "--kms-key", kms_arn)
    assert code == 0, out
    code, out = run("verify", str(b), "--kms-key", kms_arn, "--format", "json")
    assert code == 0, out
    assert json.loads(out)["keyids"] == [kms_arn]
    code, out = run("publish", str(b), "--to", s3_url, "--channel", "prod", "--kms-key", kms_arn)
    assert code == 0, out
    code, out = run("pull", "prod", "--from", s3_url, "--out", str(tmp_path / "p"), "--kms-key", kms_arn)
    assert code == 0, out
    pub = tmp_path / "kms.pub"
    code, out = run("keys", "export-kms", kms_arn, "-o", str(pub))
    assert code == 0, out
    code, out = run("verify", str(tmp_path / "p"), "--key", str(pub))  # offline: no KMS call
    assert code == 0, out
    (b / "targets/acme/prod/svc0.json").write_bytes(b"{}")
    code, out = run("verify", str(b), "--kms-key", kms_arn)
    assert code == 5 and "svc0.json" in out


def test_s3_down_exits_4(make_bundle, aws_env: dict[str, str], tmp_path: Path) -> None:
    import os
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{port}", "AWS_MAX_ATTEMPTS": "1"}
    proc = subprocess.run([*CFGC, "publish", str(make_bundle(TARGETS)), "--to", "s3://nobucket/x"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 4, proc.stderr
    assert "S3" in proc.stderr and "Traceback" not in proc.stderr
