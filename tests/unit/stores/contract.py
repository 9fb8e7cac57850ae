"""The behaviour every Store must have; run against file, S3 and OCI stores."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cfgc.base.errors import IntegrityError
from cfgc.bundle.signing import Signer
from cfgc.stores.base import ConflictError, Store
from cfgc.stores.layout import prepare
from cfgc.stores.pointer import Pointer, encode_pointer


def check_store_contract(store: Store, make_bundle: Callable[..., Path], signer: Signer) -> None:
    """Blobs are verified and write-once, versions create-only, channels compare-and-swap."""
    prep = prepare(make_bundle({"a/p/x": {"v": 1}, "a/p/y": {"v": 2}}, name="contract1"))
    other = prepare(make_bundle({"a/p/x": {"v": 3}}, name="contract2"))
    blob = prep.blobs[1]
    assert not store.has_blob(blob.digest)
    with pytest.raises(IntegrityError, match="missing"):
        store.get_blob(blob.digest)
    with pytest.raises(IntegrityError, match="corrupt"):
        store.put_blob(blob.digest, b"not the blob")
    for b in prep.blobs:
        store.put_blob(b.digest, b.data)
    store.put_blob(blob.digest, blob.data)  # again: harmless
    assert store.has_blob(blob.digest) and store.get_blob(blob.digest) == blob.data

    assert store.get_version(prep.version) is None
    assert store.put_version(prep.version, prep.version_doc) is True
    assert store.put_version(prep.version, prep.version_doc) is False
    with pytest.raises(IntegrityError, match="other content"):
        store.put_version(prep.version, other.version_doc)
    assert store.get_version(prep.version) == prep.version_doc
    assert store.list_versions() == [prep.version]

    assert prep.signatures_doc is not None
    assert store.get_signatures(prep.version) is None
    store.put_signatures(prep.version, prep.signatures_doc, prep.version_doc)
    assert store.get_signatures(prep.version) == prep.signatures_doc

    absent = store.get_channel("prod")
    assert absent.data is None and absent.etag is None and not absent.not_modified
    p1 = encode_pointer(Pointer("prod", prep.version, prep.manifest_digest, 1), [signer])
    p2 = encode_pointer(Pointer("prod", prep.version, prep.manifest_digest, 2, prep.version), [signer])
    store.put_channel("prod", p1, None, prep.version_doc)
    with pytest.raises(ConflictError):
        store.put_channel("prod", p2, None, prep.version_doc)  # "create" when it exists
    first = store.get_channel("prod")
    assert first.data == p1 and first.etag
    same = store.get_channel("prod", etag=first.etag)
    assert same.not_modified and same.data is None
    store.put_channel("prod", p2, first.etag, prep.version_doc)
    with pytest.raises(ConflictError):
        store.put_channel("prod", p1, first.etag, prep.version_doc)  # stale ETag
    now = store.get_channel("prod", etag=first.etag)
    assert now.data == p2 and now.etag != first.etag and not now.not_modified
    assert store.list_channels() == ["prod"]
