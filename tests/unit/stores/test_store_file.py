"""The file store: contract, atomic creation, locking, and what an interruption leaves."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from cfgc.base.errors import UsageError
from cfgc.bundle.signing import load_signer
from cfgc.stores import open_store
from cfgc.stores.base import check_channel
from cfgc.stores.file import FileStore
from cfgc.stores.layout import prepare
from tests.unit.stores.contract import check_store_contract


def test_file_store_contract(tmp_path: Path, make_bundle, signing_key) -> None:
    check_store_contract(FileStore(tmp_path / "store"), make_bundle, load_signer(signing_key[0]))


def test_open_store_urls(tmp_path: Path) -> None:
    assert isinstance(open_store(f"file://{tmp_path}"), FileStore)
    assert open_store("s3://bucket/pre/fix").url == "s3://bucket/pre/fix"
    assert open_store("oci://127.0.0.1:5000/acme/config").url == "oci://127.0.0.1:5000/acme/config"
    for bad in ("file://relative/path", "ftp://x", "s3://b", "oci://host", "oci://host/UPPER"):
        with pytest.raises(UsageError):
            open_store(bad)


@pytest.mark.parametrize("name", ["Prod", "1abc", "abcdef012345", "a/b", ""])
def test_channel_names_that_could_be_mistaken_are_refused(name: str) -> None:
    with pytest.raises(UsageError):
        check_channel(name)


def test_leftover_temporary_file_is_invisible(tmp_path: Path, make_bundle) -> None:
    store = FileStore(tmp_path / "s")
    prep = prepare(make_bundle({"a/b/c": {"x": 1}}))
    blob = prep.blobs[1]
    # What a crash between writing and linking leaves behind:
    d = tmp_path / "s" / "blobs" / "sha256"
    d.mkdir(parents=True)
    (d / f".{blob.digest.split(':')[1]}.tmp-crash").write_bytes(blob.data[:5])
    assert not store.has_blob(blob.digest)
    store.put_blob(blob.digest, blob.data)
    assert store.get_blob(blob.digest) == blob.data


def test_racing_version_creators_never_replace_each_other(tmp_path: Path, make_bundle) -> None:
    store = FileStore(tmp_path / "s")
    prep = prepare(make_bundle({"a/b/c": {"x": 1}}))
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def create() -> None:
        barrier.wait()
        results.append(store.put_version(prep.version, prep.version_doc))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]
    assert store.get_version(prep.version) == prep.version_doc
