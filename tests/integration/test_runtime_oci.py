"""The runtime against a real OCI registry behind a proxy that goes down, truncates and comes back."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from cfgc.base.errors import CfgcError, ExternalError, IntegrityError
from cfgc.bundle.signing import generate_keypair, load_signer
from cfgc.runtime import ConfigClient
from cfgc.runtime.fetch import RollbackError
from cfgc.secrets import default_keyring
from cfgc.stores import open_store
from tests.unit.runtime.bundles import ACME_KEY, Publisher, chat
from tests.unit.runtime.proxy import Proxy

pytestmark = pytest.mark.integration
T = "acme/prod/chat"


@pytest.fixture
def setup(oci_registry: str, tmp_path: Path, signing_key):
    repo = f"rt/{uuid.uuid4().hex[:10]}"
    host, port = oci_registry.split(":")
    proxy = Proxy((host, int(port)))
    pub = Publisher(open_store(f"oci://{oci_registry}/{repo}"), tmp_path, load_signer(signing_key[0]))
    yield pub, f"oci://127.0.0.1:{proxy.port}/{repo}", proxy, signing_key[1], tmp_path / "cache"
    proxy.close()


def client(url: str, key: Path, cache: Path) -> ConfigClient:
    return ConfigClient(source=url, channel="prod", target=T, trusted_keys=[key], cache_dir=cache,
                        background=False, keyring=default_keyring(str(ACME_KEY)))


def blob_file(storage: Path, pub: Publisher, version: str) -> Path:
    doc = json.loads(pub.store.get_version(version) or b"{}")
    digest = next(x["digest"] for x in doc["layers"] if x["annotations"]["org.opencontainers.image.title"]
                  == f"targets/{T}.json.gz").split(":")[1]
    return storage / "docker/registry/v2/blobs/sha256" / digest[:2] / digest / "data"


def test_registry_failures_keep_last_good_and_recover(setup, oci_registry_storage: Path, tmp_path: Path) -> None:
    pub, url, proxy, key, cache = setup
    proxy.mode = "down"
    with pytest.raises(ExternalError):  # nothing cached, source down: a clear error
        client(url, key, cache)
    proxy.mode = "up"
    v1 = pub.publish({T: chat(1)})
    c = client(url, key, cache)
    assert c.version == v1 and "CANARY" in c.secret("models.primary.api_key")

    proxy.mode = "down"  # down while running
    with pytest.raises(ExternalError):
        c.refresh()
    assert c.get("models.primary.timeout_s") == 1 and c.status()["stale"]
    offline = client(url, key, cache)  # down at start: served from the cache
    assert offline.version == v1 and offline.status()["origin"] == "cache"
    proxy.mode = "up"
    assert c.refresh() is False and offline.refresh() is False and not offline.status()["stale"]

    old_channel, _ = pub.store.get_manifest("prod")  # type: ignore[attr-defined]
    v2 = pub.publish({T: chat(2)})  # tampered blob in the registry's storage
    blob = blob_file(oci_registry_storage, pub, v2)
    good = blob.read_bytes()
    blob.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    with pytest.raises(IntegrityError, match="corrupt"):
        c.refresh()
    assert c.version == v1 and c.status()["verification_failures"] == 1
    blob.write_bytes(good)
    assert c.refresh() and c.version == v2

    v3 = pub.publish({T: chat(3)})  # truncated download
    proxy.mode = "truncate"
    with pytest.raises(CfgcError):
        c.refresh()
    assert c.version == v2
    proxy.mode = "up"
    assert c.refresh() and c.version == v3

    current, _ = pub.store.get_manifest("prod")  # type: ignore[attr-defined]
    pub.store.put_manifest("prod", old_channel)  # type: ignore[attr-defined]  # replayed serial-1 pointer
    with pytest.raises(RollbackError):
        c.refresh()
    assert c.version == v3 and c.status()["rollback_rejections"] == 1
    pub.store.put_manifest("prod", current)  # type: ignore[attr-defined]
    assert c.refresh() is False and c.status()["last_error"] is None

    other = load_signer(generate_keypair(tmp_path / "other")[0])
    pub.publish({T: chat(4)}, bundle_signers=[other])  # manifest signed by an untrusted key
    with pytest.raises(IntegrityError, match="no valid signature"):
        c.refresh()
    assert c.version == v3
    v5 = pub.publish({T: chat(5)})
    assert c.refresh() and c.version == v5 and c.get("models.primary.timeout_s") == 5


def test_no_change_poll_is_small(setup) -> None:
    pub, url, proxy, key, cache = setup
    pub.publish({T: chat(1)})
    c = client(url, key, cache)
    proxy.reset_counts()
    assert c.refresh() is False
    assert 0 < proxy.bytes_in + proxy.bytes_out < 2048
