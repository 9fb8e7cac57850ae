"""ConfigClient against a real file store: reads, updates, and every failure keeping the last good version."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest

from cfgc.base.errors import ExternalError, IntegrityError
from cfgc.bundle.signing import generate_keypair, load_signer
from cfgc.runtime import ConfigClient
from cfgc.runtime.fetch import RollbackError
from cfgc.runtime.prompts import PromptError
from cfgc.runtime.secrets import SecretError
from cfgc.runtime.snapshot import ConfigError
from cfgc.secrets import default_keyring
from cfgc.stores.bounds import MANIFEST_MAX
from cfgc.stores.file import FileStore
from tests.unit.runtime.bundles import ACME_KEY, GLOBEX_KEY, Publisher, chat

T = "acme/prod/chat"


class CountingStore(FileStore):
    """A file store that records what is read (to check conditional polls and delta downloads)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.blobs: list[str] = []
        self.versions = 0

    def get_blob(self, digest: str, max_bytes: int = MANIFEST_MAX) -> bytes:
        self.blobs.append(digest)
        return super().get_blob(digest, max_bytes)

    def get_version(self, version: str) -> bytes | None:
        self.versions += 1
        return super().get_version(version)


@pytest.fixture
def env(tmp_path: Path, signing_key):
    store = CountingStore(tmp_path / "store")
    pub = Publisher(store, tmp_path, load_signer(signing_key[0]))
    return store, pub, signing_key[1], tmp_path / "cache"


def client(store, pub_key, cache, target: str = T, key: Path = ACME_KEY) -> ConfigClient:
    return ConfigClient(source=store.url, channel="prod", target=target, trusted_keys=[pub_key], cache_dir=cache,
                        background=False, store=store, keyring=default_keyring(str(key)))


def blob_path(store: FileStore, version: str, title: str) -> Path:
    doc = json.loads(store.get_version(version) or b"{}")
    layer = next(x for x in doc["layers"] if x["annotations"]["org.opencontainers.image.title"] == title)
    return store.root / "blobs/sha256" / layer["digest"].split(":")[1]


def test_reads_secrets_prompts_and_updates(env) -> None:
    store, pub, key, cache = env
    v1 = pub.publish({T: chat(20), "globex/prod/chat": chat(5, tenant="globex")})
    c = client(store, key, cache)
    assert c.version == v1 and c.get("models.primary.timeout_s") == 20
    assert c.get("routing.fallbacks.1") == "fallback" and c.get("nope", 7) == 7
    with pytest.raises(ConfigError, match="no value at 'models.nope'.*primary"):
        c.get("models.nope")
    with pytest.raises(KeyError):
        c["models.nope"]
    with pytest.raises(SecretError, match="is a secret"):
        c.get("models.primary.api_key")
    assert "CANARY" in c.secret("models.primary.api_key")
    assert c.prompt("summary").render(audience="ops", text="doc").startswith("Summarize for ops in 150")
    with pytest.raises(PromptError, match="unknown variable"):
        c.prompt("summary").render(audience="ops", text="doc", bogus=1)
    assert c.prompt("ab", key="user-1").pinned == c.prompt("ab", key="user-1").pinned
    events = []
    c.on_change(lambda e: events.append((e.old_version, e.new_version, c.version)))
    assert c.refresh() is False
    v2 = pub.publish({T: chat(21), "globex/prod/chat": chat(5, tenant="globex")})
    assert c.refresh() is True and c.get("models.primary.timeout_s") == 21
    assert events == [(v1, v2, v2)]  # callbacks run after the swap
    assert c.status()["serial"] == 2 and not c.status()["stale"]


def test_other_tenants_secret_is_an_error_not_plaintext(env) -> None:
    store, pub, key, cache = env
    pub.publish({T: chat(20), "globex/prod/chat": chat(5, tenant="globex")})
    c = client(store, key, cache, target="globex/prod/chat", key=ACME_KEY)
    with pytest.raises(SecretError, match="cannot decrypt tenants/globex/secrets.enc.yaml") as e:
        c.secret("models.primary.api_key")
    assert "CANARY" not in str(e.value)
    ok = client(store, key, cache, target="globex/prod/chat", key=GLOBEX_KEY)
    assert "CANARY" in ok.secret("models.primary.api_key")


def test_unchanged_poll_is_one_conditional_read_and_only_changed_blobs_download(env) -> None:
    store, pub, key, cache = env
    targets = {T: chat(20), **{f"acme/prod/svc{i}": {"n": i} for i in range(3)}}
    pub.publish(targets)
    c = client(store, key, cache)
    store.blobs.clear()
    store.versions = 0
    assert c.refresh() is False and store.blobs == [] and store.versions == 0
    pub.publish({**targets, "acme/prod/svc1": {"n": 100}})  # another target changed
    assert c.refresh() is True
    assert store.blobs == []  # the manifest is the signed envelope's payload: no blob at all
    store.blobs.clear()
    pub.publish({**targets, T: chat(99)})
    assert c.refresh() is True and c.get("models.primary.timeout_s") == 99
    assert len(store.blobs) == 1  # our target only (prompts, secrets unchanged)


def test_readers_never_see_a_mix_of_versions(env) -> None:
    store, pub, key, cache = env
    pub.publish({T: chat(0, pair={"x": 0, "y": 0})})
    c = client(store, key, cache)
    stop, bad = threading.Event(), []

    def read() -> None:
        while not stop.is_set():
            for _ in range(50):
                s = c.snapshot()
                if s.get("pair.x") != s.get("pair.y"):
                    bad.append(s.version)
            time.sleep(0.0005)  # let the publisher run

    threads = [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    for i in range(1, 6):
        pub.publish({T: chat(i, pair={"x": i, "y": i})})
        c.refresh()
    stop.set()
    for t in threads:
        t.join()
    assert not bad and c.get("pair.x") == 5


def test_replayed_pointer_is_refused_and_reported(env) -> None:
    store, pub, key, cache = env
    pub.publish({T: chat(1)})
    old = (store.root / "channels/prod.json").read_bytes()
    c = client(store, key, cache)
    v2 = pub.publish({T: chat(2)})
    assert c.refresh()
    current = (store.root / "channels/prod.json").read_bytes()
    (store.root / "channels/prod.json").write_bytes(old)
    with pytest.raises(RollbackError, match="older than serial 2"):
        c.refresh()
    st = c.status()
    assert c.version == v2 and st["rollback_rejections"] == 1 and st["refresh_failures"] == {"rollback": 1}
    assert st["stale"] and "replayed" in st["last_error"]
    # a restarted client remembers the serial (cache) and refuses the replay too
    fresh = client(store, key, cache)
    assert fresh.version == v2 and fresh.status()["rollback_rejections"] == 1
    (store.root / "channels/prod.json").write_bytes(current)  # healthy again
    assert c.refresh() is False and not c.status()["stale"]
    v3 = pub.publish({T: chat(3)})
    assert c.refresh() and c.version == v3


@pytest.mark.parametrize("damage", ["tamper", "truncate"])
def test_damaged_blob_keeps_last_good_and_recovers(env, damage: str) -> None:
    store, pub, key, cache = env
    v1 = pub.publish({T: chat(1)})
    c = client(store, key, cache)
    before = sorted(p.name for p in cache.rglob("*"))
    v2 = pub.publish({T: chat(2)})
    blob = blob_path(store, v2, f"targets/{T}.json.gz")
    good = blob.read_bytes()
    blob.write_bytes(b"garbage" + good if damage == "tamper" else good[: len(good) // 2])
    with pytest.raises(IntegrityError):
        c.refresh()
    assert c.version == v1 and c.get("models.primary.timeout_s") == 1
    assert c.status()["verification_failures"] == 1
    assert sorted(p.name for p in cache.rglob("*")) == before  # cache untouched
    blob.write_bytes(good)
    assert c.refresh() and c.version == v2


def test_untrusted_signatures_are_refused(env, tmp_path: Path) -> None:
    store, pub, key, cache = env
    v1 = pub.publish({T: chat(1)})
    c = client(store, key, cache)
    other = load_signer(generate_keypair(tmp_path / "other")[0])
    pub.publish({T: chat(2)}, bundle_signers=[other])  # manifest signed by an untrusted key
    with pytest.raises(IntegrityError, match="no valid signature"):
        c.refresh()
    pub.publish({T: chat(3)}, pointer_signers=[other])  # channel pointer signed by an untrusted key
    with pytest.raises(IntegrityError, match="no valid signature"):
        c.refresh()
    assert c.version == v1 and c.status()["verification_failures"] == 2
    v4 = pub.publish({T: chat(4)})
    assert c.refresh() and c.version == v4


def test_source_down_at_start_and_while_running(env) -> None:
    store, pub, key, cache = env
    v1 = pub.publish({T: chat(1)})
    c = client(store, key, cache)
    away = store.root.with_name("away")
    store.root.rename(away)
    with pytest.raises(ExternalError):
        c.refresh()
    assert c.version == v1 and c.status()["refresh_failures"] == {"unreachable": 1}
    offline = client(store, key, cache)  # source down at start: the cache, re-verified
    st = offline.status()
    assert offline.version == v1 and st["origin"] == "cache" and st["stale"] and st["staleness_seconds"] >= 0
    assert "CANARY" in offline.secret("models.primary.api_key")
    away.rename(store.root)
    assert offline.refresh() is False and offline.status()["origin"] == "source"
    assert not offline.status()["stale"]


def test_no_source_and_no_cache_is_an_error(env) -> None:
    store, _, key, cache = env
    with pytest.raises(ExternalError, match="does not exist"):
        client(store, key, cache)


def test_corrupted_cache_is_detected_and_repaired(env) -> None:
    store, pub, key, cache = env
    v1 = pub.publish({T: chat(1)})
    client(store, key, cache).close()
    blobs = sorted((cache / "blobs/sha256").iterdir())
    for b in blobs:
        b.write_bytes(b.read_bytes()[:-3] + b"xyz")
    c = client(store, key, cache)  # source up: cache refused, version fetched again, cache repaired
    st = c.status()
    assert c.version == v1 and st["cache_failures"] == 1 and st["cache_corrupt_blobs"] >= 1
    saved = store.root.with_name("away")
    store.root.rename(saved)
    assert client(store, key, cache).version == v1  # the repaired cache serves offline
    for b in (cache / "blobs/sha256").iterdir():
        b.write_bytes(b"x")
    with pytest.raises(ExternalError):  # corrupt cache, source down: nothing verified to serve
        client(store, key, cache)
    (cache / "state").joinpath("junk.json").write_text("{")
    saved.rename(store.root)
    assert client(store, key, cache).version == v1
    shutil.rmtree(cache)
