"""Replayed, cross-channel, cross-repository, expired and frozen channel pointers, on every store kind.

Each test publishes for real to a file store, a moto S3 bucket or a real OCI
registry, then plays the attacker by copying a validly signed pointer
document from one place to another with the store's own API.
"""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path

import pytest

from cfgc.base.errors import IntegrityError
from cfgc.bundle.signing import load_signer, load_verifier
from cfgc.runtime import sync as sync_module
from cfgc.runtime.fetch import RollbackError
from cfgc.runtime.freshness import ExpiredError, runtime_policy
from cfgc.runtime.sync import Syncer
from cfgc.stores import Store, open_store
from cfgc.stores import pointer as pointer_module
from cfgc.stores.layout import parse_version
from cfgc.stores.pointer import decode_pointer
from cfgc.stores.publish import PointerTerms, publish, refresh_channel
from tests.unit.runtime.bundles import chat, write

T = "acme/prod/chat"
_n = iter(range(10**6))


@pytest.fixture(params=["file", "s3", "oci"])
def new_store(request, tmp_path: Path):
    """A factory of fresh, empty stores of one kind."""
    kind = request.param

    def make() -> Store:
        name = uuid.uuid4().hex[:10]
        if kind == "file":
            return open_store(f"file://{tmp_path}/store-{name}")
        if kind == "s3":
            import boto3

            request.getfixturevalue("aws_env")
            request.getfixturevalue("monkeypatch").setenv("AWS_ENDPOINT_URL_S3",
                                                          request.getfixturevalue("moto_server"))
            boto3.client("s3").create_bucket(Bucket=f"cfgc-{name}")
            return open_store(f"s3://cfgc-{name}/bundles")
        return open_store(f"oci://{request.getfixturevalue('oci_registry')}/ptr/{name}")

    return make


def syncer(store: Store, pub: Path, channel: str = "prod", **kw) -> Syncer:
    return Syncer(store, [load_verifier(pub)], channel, (T,), None, interval=0.05,
                  policy=runtime_policy(store.url, **kw))


def publish_n(store: Store, tmp: Path, signer, channel: str, n: int, terms: PointerTerms | None = None) -> list[str]:
    out = []
    for _ in range(n):
        b = write(tmp / f"b-{uuid.uuid4().hex[:8]}", {T: chat(100 + next(_n))}, [signer])
        out.append(publish(store, b, channel, [signer], terms=terms).version)
    return out


def copy_pointer(src: Store, src_channel: str, dst: Store, dst_channel: str) -> None:
    doc = src.get_channel(src_channel).data
    assert doc is not None
    read = dst.get_channel(dst_channel)
    version = decode_pointer(src_channel, doc).version
    if dst.get_version(version) is None:  # the attacker copies the version too (an OCI tag needs its blobs)
        version_doc = src.get_version(version)
        assert version_doc is not None
        info = parse_version(version, version_doc)
        for digest in [info.manifest_digest, *(str(d["digest"]) for d in info.layers)]:
            dst.put_blob(digest, src.get_blob(digest, max_bytes=1 << 20))
        dst.put_version(version, version_doc)
    dst.put_channel(dst_channel, doc, read.etag, dst.get_version(version))  # type: ignore[arg-type]


def test_replay_is_refused_by_a_runtime_without_cache(new_store, tmp_path: Path, signing_key) -> None:
    store, signer = new_store(), load_signer(signing_key[0])
    publish_n(store, tmp_path, signer, "prod", 1)
    old = store.get_channel("prod").data
    v2 = publish_n(store, tmp_path, signer, "prod", 1)[0]
    first = syncer(store, signing_key[1])
    assert first.refresh() and first.snapshot.version == v2  # type: ignore[union-attr]
    store.put_channel("prod", old, store.get_channel("prod").etag, store.get_version(v2))  # type: ignore[arg-type]
    fresh = syncer(store, signing_key[1])  # a new process, no cache: only the state file remembers
    with pytest.raises(RollbackError, match="older than serial 2"):
        fresh.refresh()
    assert fresh.snapshot is None and fresh.status()["rollback_rejections"] == 1


def test_pointer_from_another_repository_or_channel_is_refused(new_store, tmp_path: Path, signing_key) -> None:
    x, y, signer = new_store(), new_store(), load_signer(signing_key[0])
    publish_n(x, tmp_path, signer, "stg", 3, PointerTerms("acme-x"))
    publish_n(y, tmp_path, signer, "stg", 5, PointerTerms("acme-y"))
    publish_n(x, tmp_path, signer, "prod", 1)
    rt = syncer(x, signing_key[1], "stg")
    assert rt.refresh() and rt.snapshot.serial == 3  # type: ignore[union-attr]
    # X's stg pointer copied onto X's prod: pointer copied onto prod: it names its channel
    copy_pointer(x, "stg", x, "prod")
    with pytest.raises(IntegrityError, match="for channel 'stg'"):
        syncer(x, signing_key[1], "prod").refresh()
    # serial 5 of stg in Y, same CI key, copied into X: the repository differs
    copy_pointer(y, "stg", x, "stg")
    with pytest.raises(IntegrityError, match="repository 'acme-y'"):
        rt.refresh()
    assert rt.snapshot.serial == 3  # type: ignore[union-attr]
    with pytest.raises(IntegrityError, match="repository 'acme-y'"):  # a restarted runtime too (pinned)
        syncer(x, signing_key[1], "stg").refresh()
    with pytest.raises(IntegrityError, match="repository 'acme-y'"):  # and one told the repository
        syncer(x, signing_key[1], "stg", repository="acme-x", state_file=tmp_path / "other.json").refresh()


class _Clock:
    """The ``time`` module as the runtime's expiry checks see it, ``ahead`` seconds in the future:
    a pointer's expiry is reached by moving this clock, never by waiting on a loaded machine."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def time(self) -> float:
        return time.time() + self.ahead

    def __getattr__(self, name: str) -> object:
        return getattr(time, name)


def test_expired_pointer_is_refused_then_stale_and_refresh_recovers(new_store, tmp_path: Path, signing_key,
                                                                     caplog, monkeypatch) -> None:
    store, signer = new_store(), load_signer(signing_key[0])
    (v1,) = publish_n(store, tmp_path, signer, "prod", 1, PointerTerms(expires_in=-60))
    with pytest.raises(ExpiredError):
        syncer(store, signing_key[1]).refresh()
    assert syncer(store, signing_key[1], allow_expired=True).refresh()
    # a running runtime whose pointer expires keeps serving it, reports stale, logs once
    clock = _Clock()
    for module in (pointer_module, sync_module):  # every expiry check, and the staleness it feeds
        monkeypatch.setattr(module, "time", clock)
    refresh_channel(store, "prod", [signer], PointerTerms(expires_in=3600))  # fresh however slow the refresh
    rt = syncer(store, signing_key[1])
    assert rt.refresh() and not rt.status()["stale"]
    pointer = rt.snapshot.verified.pointer  # type: ignore[union-attr]
    assert not pointer.expired()
    clock.ahead = pointer.expires_at() - time.time() + 1  # just past the pointer's own expiry
    assert pointer.expired() and not pointer.expired(time.time())
    caplog.set_level(logging.INFO, logger="cfgc.runtime")
    caplog.clear()
    for _ in range(615):  # the attacker keeps serving the same, now expired, pointer
        assert rt.refresh() is False
    st = rt.status()
    assert st["stale"] and st["expired"] and st["version"] == v1
    assert sum("expired at" in r.getMessage() for r in caplog.records) == 1
    refresh_channel(store, "prod", [signer])  # the scheduled CI job runs again (issued on the real clock)
    clock.ahead = 0
    assert rt.refresh() and not rt.status()["stale"] and rt.status()["serial"] == 3
    assert sum("fresh again" in r.getMessage() for r in caplog.records) == 1
