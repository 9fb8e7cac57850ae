"""Channel pointers and signatures as OCI referrers, on the real registry (no referrers API: tag schema).

The attacker here has push access to the repository but not the signing key.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from cfgc.base.canonical import canonical_json, sha256_digest
from cfgc.base.errors import IntegrityError
from cfgc.bundle.signing import load_signer, load_verifier
from cfgc.runtime.fetch import RollbackError
from cfgc.runtime.freshness import runtime_policy
from cfgc.runtime.sync import Syncer
from cfgc.stores import open_store
from cfgc.stores.bounds import MAX_REFERRERS
from cfgc.stores.layout import CHANNEL_TYPE, OCI_MANIFEST, SIGNATURES_TYPE, prepare
from cfgc.stores.oci import OciStore
from cfgc.stores.oci_referrers import INDEX, list_referrers, schema_tag
from cfgc.stores.pointer import Pointer, encode_pointer
from cfgc.stores.reader import BundleReader
from tests.unit.runtime.bundles import Publisher, chat

pytestmark = pytest.mark.integration
T = "acme/prod/chat"


@pytest.fixture
def pub(oci_registry: str, tmp_path: Path, signing_key) -> Publisher:
    store = open_store(f"oci://{oci_registry}/ref/{uuid.uuid4().hex[:10]}")
    return Publisher(store, tmp_path, load_signer(signing_key[0]))


def syncer(store: OciStore, key: Path, channel: str = "prod") -> Syncer:
    return Syncer(store, [load_verifier(key)], channel, (T,), None, interval=0.05,
                  policy=runtime_policy(store.url))


def oci(pub: Publisher) -> OciStore:
    assert isinstance(pub.store, OciStore)
    return pub.store


def test_registry_has_no_referrers_api_so_the_tag_schema_is_used(pub: Publisher) -> None:
    v1 = pub.publish({T: chat(1)})
    store = oci(pub)
    doc = store.get_version(v1) or b""
    listing = list_referrers(store, sha256_digest(doc), CHANNEL_TYPE)
    assert store.referrers_api is False and len(listing.descriptors) == 1
    assert store.get_manifest(schema_tag(sha256_digest(doc)), accept=INDEX)[0] is not None
    assert not [t for t in store._tags(lambda t: True) if t.endswith(".sig")]


def test_tag_moved_without_the_key_is_refused(pub: Publisher, signing_key) -> None:
    v1 = pub.publish({T: chat(1)})
    pub.channel = "stg"
    v2 = pub.publish({T: chat(2)})  # a version prod never pointed at
    pub.channel = "prod"
    store = oci(pub)
    rt = syncer(store, signing_key[1])
    assert rt.refresh() and rt.snapshot.version == v1  # type: ignore[union-attr]
    store.put_manifest("prod", store.get_version(v2) or b"")  # the attacker moves the tag
    with pytest.raises(IntegrityError, match="moved without the signing key"):
        rt.refresh()
    assert rt.snapshot.version == v1  # type: ignore[union-attr]
    v3 = pub.publish({T: chat(3)})  # the publisher repairs the channel (serial above every pointer of it)
    assert rt.refresh() and rt.snapshot.version == v3 and rt.snapshot.serial == 2  # type: ignore[union-attr]
    store.put_manifest("prod", store.get_version(v1) or b"")  # back to a version prod was at: a replay
    with pytest.raises(RollbackError):
        rt.refresh()
    store.put_manifest("prod", store.get_version(v3) or b"")
    assert rt.refresh() is False and rt.snapshot.version == v3  # type: ignore[union-attr]


def test_referrer_of_another_subject_and_unsigned_pointer_are_not_accepted(pub: Publisher, signing_key,
                                                                           tmp_path: Path) -> None:
    v1 = pub.publish({T: chat(1)})
    v2 = pub.publish({T: chat(2)})
    store = oci(pub)
    d1, d2 = (sha256_digest(store.get_version(v) or b"") for v in (v1, v2))
    # The v1 pointer (subject v1) listed in v2's index with a high serial: its subject gives it away.
    old = json.loads(store.get_manifest(schema_tag(d1), accept=INDEX)[0] or b"")
    forged = next(d for d in old["manifests"] if d["artifactType"] == CHANNEL_TYPE)
    forged = {**forged, "annotations": {"dev.cfgc.channel": "prod", "dev.cfgc.channel.serial": "999"}}
    index = json.loads(store.get_manifest(schema_tag(d2), accept=INDEX)[0] or b"")
    store.put_manifest(schema_tag(d2), canonical_json({**index, "manifests": [*index["manifests"], forged]}), INDEX)
    reader = BundleReader(store, [load_verifier(signing_key[1])])
    state = reader.channel("prod")
    assert state.pointer is not None and state.pointer.version == v2 and state.pointer.serial == 2
    # A pointer for v2 signed by another key, announced with a higher serial: chosen, then refused.
    from cfgc.bundle.signing import generate_keypair

    other = load_signer(generate_keypair(tmp_path / "other")[0])
    prep_digest = json.loads(store.get_version(v2) or b"")["config"]["digest"]
    evil = encode_pointer(Pointer("prod", v2, prep_digest, 50, v1, "x", "2026-01-01T00:00:00Z",
                                  "2099-01-01T00:00:00Z"), [other])
    store.put_channel("prod", evil, store.get_channel("prod").etag, store.get_version(v2) or b"")
    with pytest.raises(IntegrityError, match="signature"):
        syncer(store, signing_key[1]).refresh()


def test_huge_forged_index_is_bounded(pub: Publisher, signing_key) -> None:
    v1 = pub.publish({T: chat(1)})
    store = oci(pub)
    subject = sha256_digest(store.get_version(v1) or b"")
    one = {"mediaType": OCI_MANIFEST, "digest": subject, "size": 1, "artifactType": CHANNEL_TYPE}
    big = canonical_json({"schemaVersion": 2, "mediaType": INDEX, "manifests": [one] * (MAX_REFERRERS + 500)})
    store.put_manifest(schema_tag(subject), big, INDEX)
    with pytest.raises(IntegrityError, match=f"more than {MAX_REFERRERS}"):
        syncer(store, signing_key[1]).refresh()


def test_no_change_poll_reads_two_small_answers(pub: Publisher, signing_key) -> None:
    pub.publish({T: chat(1)})
    store = oci(pub)
    first = store.get_channel("prod")
    calls: list[tuple[str, int, int]] = []
    real = store.registry.request

    def counting(method: str, path: str, *a, **kw):  # type: ignore[no-untyped-def]
        r = real(method, path, *a, **kw)
        calls.append((method, r.status, len(r.body)))
        return r

    store.registry.request = counting  # type: ignore[method-assign]
    again = store.get_channel("prod", first.etag)
    assert again.not_modified and [c[:2] for c in calls] == [("GET", 304), ("GET", 304)]


def test_a_store_in_the_old_layout_is_read_and_converted(pub: Publisher, signing_key, make_bundle) -> None:
    """Channel tag on a channel artifact, signatures under sha256-<hex>.sig: what cfgc wrote before."""
    store = oci(pub)
    signer = load_signer(signing_key[0])
    prep = prepare(make_bundle({T: chat(1)}, name="old"))
    for b in prep.blobs:
        store.put_blob(b.digest, b.data)
    store.put_version(prep.version, prep.version_doc)
    assert prep.signatures_doc is not None
    sig_tag = sha256_digest(prep.version_doc).replace(":", "-") + ".sig"
    store.put_manifest(sig_tag, store.artifact(SIGNATURES_TYPE, "signatures.json", prep.signatures_doc,
                                               prep.version_doc))
    pointer = encode_pointer(Pointer("prod", prep.version, prep.manifest_digest, 1, None, "acme",
                                     "2026-01-01T00:00:00Z", "2099-01-01T00:00:00Z"), [signer])
    store.put_manifest("prod", store.artifact(CHANNEL_TYPE, "channel.json", pointer, prep.version_doc))
    rt = syncer(store, signing_key[1])
    assert rt.refresh() and rt.snapshot.version == prep.version  # type: ignore[union-attr]
    assert store.list_channels() == ["prod"]
    v2 = pub.publish({T: chat(2)})  # a new publisher moves the channel the new way
    assert rt.refresh() and rt.snapshot.version == v2 and rt.snapshot.serial == 2  # type: ignore[union-attr]
    assert store.get_manifest("prod")[0] == store.get_version(v2)
