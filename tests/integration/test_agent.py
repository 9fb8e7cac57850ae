"""``cfgc agent`` as a real subprocess: readiness, routes, SSE, failures in metrics, SIGTERM."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from cfgc.bundle.signing import generate_keypair, load_signer
from cfgc.stores.file import FileStore
from tests.fixtures.repos import cfgc_bin
from tests.fixtures.servers import free_port
from tests.unit.runtime.bundles import ACME_KEY, Publisher, chat

pytestmark = pytest.mark.integration
T = "acme/prod/chat"


class Agent:
    def __init__(self, tmp: Path, store: Path, key: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = tmp / f"agent-{self.port}.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [*cfgc_bin(), "agent", "--from", f"file://{store}", "--channel", "prod", "--key", str(key),
                 "--listen", f"127.0.0.1:{self.port}", "--interval", "0.2", "--log-format", "json", *extra],
                stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.base + path, timeout=5) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def json(self, path: str) -> object:
        code, body = self.get(path)
        assert code == 200, (code, body)
        return json.loads(body)

    def wait(self, cond, what: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                if cond():
                    return
            except OSError:
                pass
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {self.log.read_text()[-3000:]}"
            time.sleep(0.05)

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(10) == 0, self.log.read_text()
        return self.log.read_text()


def metric(agent: Agent, name: str) -> float:
    _, body = agent.get("/metrics")
    for line in body.decode().splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no metric {name}")


def test_agent_serves_updates_survives_failures_and_stops_cleanly(tmp_path: Path, signing_key) -> None:
    store = FileStore(tmp_path / "store")
    pub = Publisher(store, tmp_path, load_signer(signing_key[0]))
    v1 = pub.publish({T: chat(1), "globex/prod/chat": chat(9, tenant="globex")})
    a = Agent(tmp_path, store.root, signing_key[1], "--target", "acme/*", "--cache-dir", str(tmp_path / "cache"),
              "--serve-secrets", env={"SOPS_AGE_KEY_FILE": str(ACME_KEY)})
    try:
        a.wait(lambda: a.get("/health/ready")[0] == 200, "ready")
        assert a.get("/health/live")[0] == 200
        assert a.json(f"/v1/targets/{T}/values/models.primary.timeout_s") == 1
        assert a.json(f"/v1/targets/{T}")["models"]["primary"]["api_key"]["$secret"]  # a reference, not plaintext
        assert a.get(f"/v1/targets/{T}/values/models.primary.api_key")[0] == 403
        assert "CANARY" in a.json(f"/v1/targets/{T}/secrets/models.primary.api_key")
        assert a.get("/v1/targets/globex/prod/chat")[0] == 404  # not selected by --target
        assert a.get(f"/v1/targets/{T}/values/nope")[0] == 404

        # keep-alive: several requests on one connection, and a 304
        conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=5)
        for _ in range(3):
            conn.request("GET", f"/v1/targets/{T}")
            r = conn.getresponse()
            etag = r.getheader("ETag")
            assert r.status == 200 and json.loads(r.read())["models"]["primary"]["timeout_s"] == 1
        conn.request("GET", f"/v1/targets/{T}", headers={"If-None-Match": etag})
        r = conn.getresponse()
        assert r.status == 304 and r.read() == b""
        conn.close()

        events: list[dict[str, object]] = []
        sse = socket.create_connection(("127.0.0.1", a.port), timeout=10)
        sse.sendall(b"GET /v1/watch HTTP/1.1\r\nHost: localhost\r\n\r\n")

        def read_events() -> None:
            buf = b""
            try:
                while chunk := sse.recv(4096):
                    buf += chunk
                    while b"\n\n" in buf:
                        block, buf = buf.split(b"\n\n", 1)
                        for line in block.decode().splitlines():
                            if line.startswith("data: "):
                                events.append(json.loads(line[6:]))
            except OSError:
                pass

        threading.Thread(target=read_events, daemon=True).start()
        a.wait(lambda: len(events) == 1, "the first event")
        assert events[0]["version"] == v1

        v2 = pub.publish({T: chat(2)})
        a.wait(lambda: len(events) == 2, "an event for v2")
        assert events[1]["version"] == v2 and events[1]["serial"] == 2
        assert a.json(f"/v1/targets/{T}/values/models.primary.timeout_s") == 2

        # a tampered blob: v2 stays, the failure shows in status and metrics, then recovery
        v3 = pub.publish({T: chat(3)})
        blobs = [p for p in (store.root / "blobs/sha256").iterdir()]
        saved = {p: p.read_bytes() for p in blobs}
        for p in blobs:
            p.write_bytes(b"tampered")
        a.wait(lambda: metric(a, "cfgc_runtime_verification_failures_total") >= 1, "a verification failure")
        assert a.json(f"/v1/targets/{T}/values/models.primary.timeout_s") == 2
        status = a.json("/v1/status")
        assert status["version"] == v2 and status["stale"] and status["last_error_reason"] == "verification"
        for p, data in saved.items():
            p.write_bytes(data)
        a.wait(lambda: a.json("/v1/status")["version"] == v3, "recovery to v3")
        assert metric(a, "cfgc_runtime_serial") == 3 and metric(a, "cfgc_agent_request_duration_seconds_count") > 5
        sse.shutdown(socket.SHUT_RDWR)
        sse.close()
    finally:
        log = a.stop()
    lines = [json.loads(line) for line in log.splitlines() if line.strip()]
    assert {"listening", "shutdown", "stopped"} <= {x.get("event") for x in lines}
    assert "CANARY" not in log


def test_agent_starts_from_cache_when_the_source_is_down(tmp_path: Path, signing_key) -> None:
    store = FileStore(tmp_path / "store")
    pub = Publisher(store, tmp_path, load_signer(signing_key[0]))
    v1 = pub.publish({T: chat(1)})
    cache = tmp_path / "cache"
    a = Agent(tmp_path, store.root, signing_key[1], "--cache-dir", str(cache))
    a.wait(lambda: a.get("/health/ready")[0] == 200, "ready")
    a.stop()
    store.root.rename(tmp_path / "away")
    b = Agent(tmp_path, store.root, signing_key[1], "--cache-dir", str(cache))
    try:
        b.wait(lambda: b.get("/health/ready")[0] == 200, "ready from the cache")
        # ready comes from the cache before the first poll of the (missing) store
        # has failed; stale follows that poll
        b.wait(lambda: b.json("/v1/status")["stale"], "stale once the poll failed")
        st = b.json("/v1/status")
        assert st["version"] == v1 and st["origin"] == "cache" and st["stale"]
        assert metric(b, "cfgc_runtime_stale") == 1
        (tmp_path / "away").rename(store.root)
        b.wait(lambda: not b.json("/v1/status")["stale"], "fresh again")
    finally:
        b.stop()


def test_agent_not_ready_without_any_version_then_ready(tmp_path: Path, signing_key) -> None:
    store = FileStore(tmp_path / "store")
    a = Agent(tmp_path, store.root, signing_key[1])
    try:
        a.wait(lambda: a.get("/health/live")[0] == 200, "live")
        assert a.get("/health/ready")[0] == 503 and a.get(f"/v1/targets/{T}")[0] == 503
        Publisher(store, tmp_path, load_signer(signing_key[0])).publish({T: chat(1)})
        a.wait(lambda: a.get("/health/ready")[0] == 200, "ready")
    finally:
        a.stop()


def test_agent_refuses_secrets_off_loopback(tmp_path: Path, signing_key, run_cfgc) -> None:
    r = run_cfgc("agent", "--from", f"file://{tmp_path}", "--channel", "prod", "--key", signing_key[1],
                 "--listen", "0.0.0.0:0", "--serve-secrets")
    assert r.returncode == 2 and "loopback" in r.stderr


def test_untrusted_pointer_keeps_version(tmp_path: Path, signing_key) -> None:
    store = FileStore(tmp_path / "store")
    pub = Publisher(store, tmp_path, load_signer(signing_key[0]))
    v1 = pub.publish({T: chat(1)})
    a = Agent(tmp_path, store.root, signing_key[1])
    try:
        a.wait(lambda: a.get("/health/ready")[0] == 200, "ready")
        other = load_signer(generate_keypair(tmp_path / "other")[0])
        pub.publish({T: chat(2)}, pointer_signers=[other])
        a.wait(lambda: metric(a, "cfgc_runtime_verification_failures_total") >= 1, "the refusal")
        assert a.json("/v1/status")["version"] == v1
    finally:
        a.stop()
