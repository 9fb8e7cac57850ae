"""Publishing to a file store: what is uploaded, channels, rollback, faults, races."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cfgc.base.errors import ExternalError, InputError, IntegrityError, UsageError
from cfgc.bundle.signing import generate_keypair, load_signer, load_verifier
from cfgc.stores.file import FileStore
from cfgc.stores.publish import list_versions, promote, publish
from cfgc.stores.reader import BundleReader
from tests.fixtures.cli import run

TARGETS = {f"acme/prod/svc{i}": {"model": f"m{i}", "pad": "x" * 200} for i in range(5)}


def store_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "store")


def test_first_publish_uploads_everything_and_a_republish_nothing(store, make_bundle, signing_key) -> None:
    b = make_bundle(TARGETS, prompts={"hello@1.0.0": "Hi {{ name }}"})
    signer = load_signer(signing_key[0])
    r = publish(store, b, "prod", [signer])
    paths = [p for p, _ in r.uploaded]
    assert paths[0] == "manifest.json" and "prompts/hello/1.0.0.j2" in paths
    assert sum(p.startswith("targets/") for p in paths) == 5
    assert paths[-2:] == ["signatures", "version manifest"]
    assert r.version_created and r.channel is not None and r.channel.pointer.serial == 1
    before = store_files(store.root)
    again = publish(store, b, "prod", [signer])
    assert again.uploaded == () and len(again.skipped) == 7 and not again.version_created
    assert again.signatures == "unchanged" and again.channel is not None and again.channel.action == "unchanged"
    assert store_files(store.root) == before


def test_one_changed_target_uploads_one_blob_plus_manifests(store, make_bundle) -> None:
    publish(store, make_bundle(TARGETS, name="v1"))
    changed = {**TARGETS, "acme/prod/svc3": {"model": "m3-new", "pad": "x" * 200}}
    r = publish(store, make_bundle(changed, name="v2"))
    assert [p for p, _ in r.uploaded] == ["manifest.json", "targets/acme/prod/svc3.json", "signatures",
                                          "version manifest"]
    assert len(r.skipped) == 4
    assert len(store.list_versions()) == 2


def test_dry_run_writes_nothing(store, make_bundle, signing_key) -> None:
    r = publish(store, make_bundle(TARGETS), "prod", [load_signer(signing_key[0])], dry_run=True)
    assert len(r.uploaded) == 8 and r.channel is not None and r.channel.pointer.serial == 1
    assert not store.root.exists() or store_files(store.root) == {}


def test_channel_needs_a_key(store, make_bundle) -> None:
    with pytest.raises(UsageError, match="signing key"):
        publish(store, make_bundle(TARGETS), "prod", None)


def test_promote_and_rollback_grow_the_serial(store, make_bundle, signing_key) -> None:
    signer = load_signer(signing_key[0])
    v1 = publish(store, make_bundle({"a/b/c": {"v": 1}}, name="b1", commit_time="2026-01-01T00:00:00Z"),
                 "prod", [signer]).version
    v2 = publish(store, make_bundle({"a/b/c": {"v": 2}}, name="b2", commit_time="2026-01-02T00:00:00Z"),
                 "prod", [signer]).version
    back = promote(store, "prod", v1, [signer])
    assert (back.action, back.pointer.version, back.pointer.serial, back.pointer.previous) == ("moved", v1, 3, v2)
    promote(store, "staging", v2, [signer])
    rows = list_versions(store)
    assert [(r.version, r.channels) for r in rows] == [(v2, ("staging",)), (v1, ("prod",))]
    with pytest.raises(InputError, match="no version"):
        promote(store, "prod", "0" * 12, [signer])
    reader = BundleReader(store, [load_verifier(signing_key[1])])
    assert reader.channel("prod").pointer.serial == 3  # type: ignore[union-attr]
    with pytest.raises(IntegrityError, match="older than"):
        reader.channel("prod", min_serial=4)


def test_pointer_signed_by_another_key_is_refused(store, make_bundle, tmp_path: Path, signing_key) -> None:
    key, _ = generate_keypair(tmp_path / "intruder")
    publish(store, make_bundle(TARGETS), "prod", [load_signer(key)])
    with pytest.raises(IntegrityError, match="no valid signature"):
        BundleReader(store, [load_verifier(signing_key[1])]).channel("prod")


def test_pull_roundtrip_and_corrupt_blob_detected(store, make_bundle, tmp_path: Path, signing_key) -> None:
    b = make_bundle(TARGETS)
    r = publish(store, b, "prod", [load_signer(signing_key[0])])
    out = tmp_path / "pulled"
    assert BundleReader(store, [load_verifier(signing_key[1])]).pull("prod", out) == r.version
    assert store_files(out) == store_files(b)
    blob = next(store.root.glob("blobs/sha256/*"))
    good = blob.read_bytes()
    blob.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    before = store_files(store.root)
    code, text = run("pull", "prod", "--from", f"file://{store.root}", "--out", str(tmp_path / "p2"))
    assert code == 5 and "corrupt" in text and "Traceback" not in text
    assert not (tmp_path / "p2").exists() and store_files(store.root) == before


class FlakyStore(FileStore):
    """Fails after ``n`` blob uploads: an interrupted publish."""

    def __init__(self, root: Path, n: int) -> None:
        super().__init__(root)
        self.n = n

    def put_blob(self, digest: str, data: bytes) -> None:
        if self.n == 0:
            raise ExternalError("connection reset")
        self.n -= 1
        super().put_blob(digest, data)


def test_interrupted_publish_leaves_no_version_and_resumes(store, make_bundle) -> None:
    b = make_bundle(TARGETS)
    with pytest.raises(ExternalError):
        publish(FlakyStore(store.root, 3), b)
    assert store.list_versions() == []
    r = publish(store, b)
    assert len(r.skipped) == 3 and len(r.uploaded) == 5  # 3 targets + signatures + version manifest
    assert BundleReader(store).files(r.version)["targets/acme/prod/svc0.json"]


def test_concurrent_publishers_lose_no_version_and_keep_the_channel_whole(store, make_bundle, signing_key) -> None:
    signer = load_signer(signing_key[0])
    bundles = [make_bundle({"a/b/c": {"n": i}}, name=f"c{i}") for i in range(8)]
    with ThreadPoolExecutor(4) as pool:
        reports = list(pool.map(lambda b: publish(store, b, "prod", [signer]), bundles))
    assert sorted(store.list_versions()) == sorted(r.version for r in reports)
    pointer = BundleReader(store, [load_verifier(signing_key[1])]).channel("prod").pointer
    assert pointer is not None and pointer.serial == 8
    assert sorted(r.channel.pointer.serial for r in reports if r.channel) == list(range(1, 9))


def test_cli_publish_json_and_versions(store, make_bundle, signing_key) -> None:
    b = make_bundle(TARGETS)
    url = f"file://{store.root}"
    code, out = run("publish", str(b), "--to", url, "--channel", "prod", "--key", str(signing_key[0]),
                    "--format", "json")
    assert code == 0, out
    data = json.loads(out)
    assert data["counts"]["uploaded"] == 8 and data["channel"]["serial"] == 1
    code, out = run("publish", str(b), "--to", url)
    assert code == 0 and "nothing to upload" in out
    code, out = run("versions", "--from", url, "--format", "json")
    assert code == 0 and json.loads(out)[0]["channels"] == ["prod"]
    code, out = run("promote", "--to", url, "--channel", "prod", "--version", "zzz", "--key", str(signing_key[0]))
    assert code == 2 and "not a version id" in out


def test_secret_documents_travel_and_are_verified(store, make_bundle, signing_key, tmp_path: Path) -> None:
    sops = b"api_key: ENC[AES256_GCM,data:abc,iv:x,tag:y,type:str]\nsops:\n  version: 3.9.0\n"
    b = make_bundle(TARGETS, secrets={"tenants/acme/prod/secrets.sops.yaml": sops})
    r = publish(store, b)
    assert "secrets/tenants/acme/prod/secrets.sops.yaml" in [p for p, _ in r.uploaded]
    layers = json.loads(store.get_version(r.version) or b"{}")["layers"]
    assert layers[-1]["mediaType"] == "application/vnd.cfgc.secret.v1.sops+gzip"
    out = tmp_path / "pulled"
    BundleReader(store, [load_verifier(signing_key[1])]).pull(r.version, out)
    assert (out / "secrets/tenants/acme/prod/secrets.sops.yaml").read_bytes() == sops
    (b / "secrets/tenants/acme/prod/secrets.sops.yaml").write_bytes(sops.replace(b"abc", b"abd"))
    with pytest.raises(IntegrityError, match="secrets.sops.yaml: digest"):
        publish(store, b)


def test_pull_replaces_a_previous_bundle_and_refuses_other_dirs(store, make_bundle, tmp_path: Path) -> None:
    v1 = publish(store, make_bundle({"a/b/c": {"v": 1}}, name="b1")).version
    v2 = publish(store, make_bundle({"a/b/d": {"v": 2}}, name="b2")).version
    out = tmp_path / "live"
    reader = BundleReader(store)
    reader.pull(v1, out)
    reader.pull(v2, out)
    assert sorted(p.name for p in (out / "targets/a/b").iterdir()) == ["d.json"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".live")] == []
    other = tmp_path / "notabundle"
    other.mkdir()
    (other / "keep.txt").write_text("x")
    with pytest.raises(UsageError, match="holds no bundle"):
        reader.pull(v1, other)
    assert (other / "keep.txt").read_text() == "x"


def test_pointer_promising_another_manifest_is_refused(store, make_bundle, signing_key, tmp_path: Path) -> None:
    from cfgc.stores.pointer import Pointer, encode_pointer

    r = publish(store, make_bundle(TARGETS))
    forged = encode_pointer(Pointer("prod", r.version, "sha256:" + "0" * 64, 1), [load_signer(signing_key[0])])
    store.put_channel("prod", forged, None, b"")
    with pytest.raises(IntegrityError, match="promised"):
        BundleReader(store, [load_verifier(signing_key[1])]).pull("prod", tmp_path / "out")
    assert not (tmp_path / "out").exists()
