"""Publishing to a real OCI registry (Debian docker-registry 2.8), read back by skopeo and oras."""

from __future__ import annotations

import gzip
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
from tests.fixtures.tools import need
from tests.unit.stores.contract import check_store_contract

pytestmark = pytest.mark.integration

CFGC = [sys.executable, "-c", "from cfgc.cli.main import main; main()"]
TARGETS = {f"acme/prod/svc{i}": {"model": f"m{i}", "pad": "y" * 300} for i in range(4)}


@pytest.fixture
def repo_url(oci_registry: str) -> str:
    return f"oci://{oci_registry}/t{uuid.uuid4().hex[:10]}/config"


def test_oci_store_contract(repo_url: str, make_bundle, signing_key) -> None:
    check_store_contract(open_store(repo_url), make_bundle, load_signer(signing_key[0]))


def _sha(ref: str, version: str) -> str:
    store = open_store(f"oci://{ref}")
    doc = store.get_version(version)
    assert doc is not None
    import hashlib

    return hashlib.sha256(doc).hexdigest()


def _skopeo(*args: str) -> bytes:
    skopeo = need("skopeo", "apt-get install skopeo")
    return subprocess.run([skopeo, *args, "--tls-verify=false"], capture_output=True, check=True, timeout=60).stdout


def test_publish_is_readable_by_skopeo_and_oras(repo_url: str, make_bundle, signing_key, tmp_path: Path) -> None:
    """`:prod` is the bundle itself for every OCI client; pointer and signatures are referrers, no cosign tag."""
    b = make_bundle(TARGETS)
    code, out = run("publish", str(b), "--to", repo_url, "--channel", "prod", "--key", str(signing_key[0]),
                    "--flux-layer", "--format", "json")
    assert code == 0, out
    version = json.loads(out)["version"]
    ref = repo_url.removeprefix("oci://")
    tags = json.loads(_skopeo("list-tags", f"docker://{ref}"))["Tags"]
    digest = f"sha256:{_sha(ref, version)}"
    assert sorted(tags) == sorted([version, "prod", digest.replace(":", "-")])  # no sha256-<hex>.sig
    raw = _skopeo("inspect", "--raw", f"docker://{ref}:prod")
    assert raw == _skopeo("inspect", "--raw", f"docker://{ref}:{version}")  # the tag is on the version manifest
    m = json.loads(raw)
    assert m["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert m["artifactType"] == "application/vnd.cfgc.bundle.v1"
    assert m["config"]["mediaType"] == "application/vnd.cfgc.bundle.config.v1+json"
    notes = m["annotations"]
    assert notes["org.opencontainers.image.revision"] == "c0ffee" * 6 + "abcd"
    assert notes["org.opencontainers.image.created"] == "2026-01-02T03:04:05Z"
    assert notes["org.opencontainers.image.source"] == "https://git.example.com/acme/config.git"
    assert notes["org.opencontainers.image.version"] == version
    titles = [layer["annotations"]["org.opencontainers.image.title"] for layer in m["layers"]]
    assert titles == ["bundle.tar.gz", *(f"targets/{t}.json.gz" for t in sorted(TARGETS))]
    assert m["layers"][0]["mediaType"] == "application/vnd.cncf.flux.content.v1.tar+gzip"

    # The referrers tag schema: an image index of the pointer and the signatures, both about the version.
    index = json.loads(_skopeo("inspect", "--raw", f"docker://{ref}:{digest.replace(':', '-')}"))
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    kinds = sorted(d["artifactType"] for d in index["manifests"])
    assert kinds == ["application/vnd.cfgc.channel+json", "application/vnd.cfgc.signatures.v1+json"]
    for d in index["manifests"]:
        referrer = json.loads(_skopeo("inspect", "--raw", f"docker://{ref}@{d['digest']}"))
        assert referrer["subject"]["digest"] == digest and referrer["artifactType"] == d["artifactType"]
    pointer_desc = next(d for d in index["manifests"] if d["artifactType"].endswith("channel+json"))
    assert pointer_desc["annotations"] == {"dev.cfgc.channel": "prod", "dev.cfgc.channel.serial": "1"}

    import oras.client as oras_client
    host = ref.split("/", 1)[0]
    client = oras_client.OrasClient(hostname=host, insecure=True)
    files = client.pull(target=f"{ref}:prod", outdir=str(tmp_path / "oras"))
    got = {Path(f).relative_to(tmp_path / "oras").as_posix(): Path(f).read_bytes() for f in files}
    assert sorted(got) == sorted(["bundle.tar.gz", *(f"targets/{t}.json.gz" for t in TARGETS)])
    for rel, data in got.items():
        if rel != "bundle.tar.gz":
            assert gzip.decompress(data) == (b / rel.removesuffix(".gz")).read_bytes()

    # The Flux layer is the whole bundle tree: `tar -xzf` gives a directory `cfgc verify` accepts.
    tree = tmp_path / "flux"
    tree.mkdir()
    subprocess.run(["tar", "-xzf", str(tmp_path / "oras" / "bundle.tar.gz"), "-C", str(tree)], check=True)
    assert sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file()) == sorted(
        p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file())
    code, out = run("verify", str(tree), "--key", str(signing_key[1]))
    assert code == 0, out

    # cfgc itself finds and verifies pointer and signatures through the referrers.
    reader = BundleReader(open_store(repo_url), [load_verifier(signing_key[1])])
    state = reader.channel("prod")
    assert state.pointer is not None and state.pointer.version == version and state.pointer.serial == 1
    assert reader.files(version)["manifest.sig.json"] == (b / "manifest.sig.json").read_bytes()


def test_republish_and_one_changed_target(repo_url: str, make_bundle, signing_key, tmp_path: Path) -> None:
    store = open_store(repo_url)
    first = publish(store, make_bundle(TARGETS, name="v1"))
    again = publish(store, make_bundle(TARGETS, name="v1again"))
    assert again.uploaded == () and not again.version_created
    changed = {**TARGETS, "acme/prod/svc2": {"model": "new", "pad": "y" * 300}}
    r = publish(store, make_bundle(changed, name="v2"))
    assert [p for p, _ in r.uploaded] == ["manifest.json", "targets/acme/prod/svc2.json", "signatures",
                                          "version manifest"]
    assert sorted(store.list_versions()) == sorted([first.version, r.version])
    out = tmp_path / "pulled"
    BundleReader(store, [load_verifier(signing_key[1])]).pull(r.version, out)
    assert json.loads((out / "targets/acme/prod/svc2.json").read_bytes())["model"] == "new"


def test_corrupt_blob_in_registry_exits_5(repo_url: str, make_bundle, signing_key, oci_registry_storage: Path,
                                          tmp_path: Path) -> None:
    unique = {"a/b/c": {"nonce": uuid.uuid4().hex}}  # a blob no other test shares
    store = open_store(repo_url)
    r = publish(store, make_bundle(unique), "prod", [load_signer(signing_key[0])])
    info = json.loads(store.get_version(r.version) or b"{}")
    digest = info["layers"][0]["digest"].split(":")[1]
    data = oci_registry_storage / f"docker/registry/v2/blobs/sha256/{digest[:2]}/{digest}/data"
    data.write_bytes(gzip.compress(b'{"nonce":"evil"}', mtime=0))
    code, out = run("pull", "prod", "--from", repo_url, "--out", str(tmp_path / "p"), "--key", str(signing_key[1]))
    assert code == 5 and "corrupt" in out and "Traceback" not in out
    assert not (tmp_path / "p").exists()
    assert store.get_version(r.version) == json.dumps(info, sort_keys=True, separators=(",", ":")).encode()


def test_concurrent_publishers_keep_every_version(repo_url: str, make_bundle, signing_key) -> None:
    signer = load_signer(signing_key[0])
    bundles = [make_bundle({"a/b/c": {"n": i, "run": repo_url}}, name=f"c{i}") for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        reports = list(pool.map(lambda b: publish(open_store(repo_url), b, "prod", [signer]), bundles))
    store = open_store(repo_url)
    assert sorted(store.list_versions()) == sorted(r.version for r in reports)
    pointer = BundleReader(store, [load_verifier(signing_key[1])]).channel("prod").pointer
    assert pointer is not None and pointer.version in {r.version for r in reports}
    for r in reports:
        BundleReader(store).files(r.version)  # every version complete and intact


def test_registry_down_exits_4_without_traceback(make_bundle) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    b = make_bundle(TARGETS)
    proc = subprocess.run([*CFGC, "publish", str(b), "--to", f"oci://127.0.0.1:{port}/x/y"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 4, proc.stderr
    assert "registry 127.0.0.1:" in proc.stderr and "unreachable" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_interrupted_upload_is_invisible_and_publish_resumes(repo_url: str, make_bundle) -> None:
    from cfgc.base.errors import ExternalError
    from cfgc.stores.layout import prepare
    from cfgc.stores.oci import OciStore

    b = make_bundle({f"a/b/c{i}": {"nonce": uuid.uuid4().hex} for i in range(4)})
    store = open_store(repo_url)
    assert isinstance(store, OciStore)
    blob = prepare(b).blobs[-1]  # one the interrupted publish below does not reach
    # An upload session that got half the bytes before the connection died:
    r = store.registry.request("POST", f"/v2/{store.repository}/blobs/uploads/", b"")
    store.registry.request("PATCH", r.header("Location") or "", blob.data[:10],
                           {"Content-Type": "application/octet-stream"})
    assert not store.has_blob(blob.digest)

    class Flaky(OciStore):
        left = 2

        def put_blob(self, digest: str, data: bytes) -> None:
            if self.left == 0:
                raise ExternalError("connection reset")
            self.left -= 1
            super().put_blob(digest, data)

    with pytest.raises(ExternalError):
        publish(Flaky(store.registry, store.repository), b)
    assert store.list_versions() == []  # no version refers to missing blobs
    report = publish(store, b)
    assert len(report.skipped) == 2 and (blob.path, len(blob.data)) in report.uploaded
    assert BundleReader(store).files(report.version)[blob.path]
