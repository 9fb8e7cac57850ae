"""The agent's memory behaviour: bounded parsed targets, old versions released, responses unchanged."""

from __future__ import annotations

import gc
import json
import weakref
from pathlib import Path

import pytest

from cfgc.bundle.signing import load_signer, load_verifier
from cfgc.runtime.agent.app import Agent
from cfgc.runtime.agent.http import response
from cfgc.runtime.sync import Syncer
from cfgc.stores.file import FileStore
from cfgc.stores.publish import refresh_channel
from tests.unit.runtime.bundles import Publisher, chat

N = 12


def targets(timeout: int) -> dict[str, dict]:
    return {f"acme/prod/svc-{i:02d}": chat(timeout + i, extra_list=list(range(i))) for i in range(N)}


@pytest.fixture
def setup(tmp_path: Path, signing_key):
    store = FileStore(tmp_path / "store")
    pub = Publisher(store, tmp_path, load_signer(signing_key[0]))
    pub.publish(targets(10))
    syncer = Syncer(store, [load_verifier(signing_key[1])], "prod", ("acme/prod/*",), parsed_max=3)
    syncer.refresh()
    return store, pub, syncer


def get(agent: Agent, path: str, **headers: str) -> bytes:
    out = agent.handle("GET", path, {"host": "localhost", **headers}, None)  # type: ignore[arg-type]
    assert out is not None
    return out


def test_parsed_targets_stay_within_the_bound(setup) -> None:
    _, _, syncer = setup
    agent = Agent(syncer)
    snap = syncer.snapshot
    assert snap is not None and snap.parsed.parses == 0  # nothing parsed until a value is asked for
    for i in range(N):
        body = get(agent, f"/v1/targets/acme/prod/svc-{i:02d}/values/models.primary.timeout_s").split(b"\r\n\r\n")[1]
        assert json.loads(body) == 10 + i
        assert len(snap.parsed) <= 3
    assert snap.parsed.parses == N
    # The most recent targets are kept: reading one again does not parse it again.
    get(agent, f"/v1/targets/acme/prod/svc-{N - 1:02d}/values/routing.fallbacks")
    assert snap.parsed.parses == N
    # An evicted one is parsed again, and still answers correctly.
    body = get(agent, "/v1/targets/acme/prod/svc-00/values/extra_list").split(b"\r\n\r\n")[1]
    assert json.loads(body) == [] and snap.parsed.parses == N + 1 and len(snap.parsed) == 3


def test_responses_are_the_published_bytes_for_every_target(setup, tmp_path: Path) -> None:
    _, pub, syncer = setup
    agent = Agent(syncer)
    snap = syncer.snapshot
    assert snap is not None
    etag = f'"{snap.version}-{snap.serial}"'
    extra = (("ETag", etag), ("X-Cfgc-Version", snap.version), ("X-Cfgc-Serial", str(snap.serial)))
    bundle = tmp_path / f"bundle{pub.n}"
    for name in targets(10):
        published = (bundle / "targets" / f"{name}.json").read_bytes()
        # The whole response as the agent built it before responses were prepared on demand.
        assert get(agent, f"/v1/targets/{name}") == response(200, published + b"\n", extra=extra)
        assert get(agent, f"/v1/targets/{name}", **{"if-none-match": etag}).startswith(b"HTTP/1.1 304")
        assert snap.targets[name].raw == published


def test_a_swap_releases_the_old_version(setup) -> None:
    _, pub, syncer = setup
    agent = Agent(syncer)
    get(agent, "/v1/targets/acme/prod/svc-01")
    get(agent, "/v1/targets/acme/prod/svc-01/values/models.primary.timeout_s")
    old = weakref.ref(syncer.snapshot)
    old_files = weakref.ref(syncer.snapshot.verified.files)  # type: ignore[union-attr]
    old_map = weakref.ref(syncer.snapshot.verified.files._map)  # type: ignore[union-attr]
    pub.publish(targets(100))
    assert syncer.refresh()
    gc.collect()
    assert old() is None and old_files() is None and old_map() is None  # the old map is unmapped
    body = get(agent, "/v1/targets/acme/prod/svc-01/values/models.primary.timeout_s").split(b"\r\n\r\n")[1]
    assert json.loads(body) == 101


def test_held_versions_keep_neither_manifest_bytes_nor_download_buffers(setup) -> None:
    _, pub, syncer = setup
    v = syncer.snapshot.verified  # type: ignore[union-attr]
    assert v.manifest_raw == b"" and v.signature == b"" and not v.new_blobs
    # A re-signed pointer to the same content (new serial) is read and verified again, and swaps in.
    refresh_channel(syncer.store, "prod", [pub.signer])
    assert syncer.refresh()
    assert syncer.snapshot.serial == v.pointer.serial + 1  # type: ignore[union-attr]
