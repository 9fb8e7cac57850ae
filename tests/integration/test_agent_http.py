"""The agent's HTTP layer against hostile clients: a real ``cfgc agent`` over real sockets on 127.0.0.1.

Malformed framing (RFC 9112), request smuggling, DNS rebinding (Host), slowloris,
idle connections, a client that pipelines without reading, the connection cap
under a small open-file limit, HEAD and 304 framing, SSE with an h11 client.
"""

from __future__ import annotations

import contextlib
import json
import resource
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from httpx_sse import connect_sse

from cfgc.bundle.signing import generate_keypair, load_signer
from cfgc.runtime.agent.http import RESERVE_GRACE
from cfgc.stores.file import FileStore
from tests.integration.test_agent import Agent
from tests.unit.runtime.bundles import ACME_KEY, Publisher, chat

pytestmark = pytest.mark.integration
T = "acme/prod/chat"
SECRET = f"/v1/targets/{T}/secrets/models.primary.api_key"
SERVICE = "cfgc-agent.default.svc"


class Env:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        priv, self.pub_key = generate_keypair(tmp / "ci")
        self.store = FileStore(tmp / "store")
        self.publisher = Publisher(self.store, tmp, load_signer(priv))
        self.v1 = self.publisher.publish({T: chat(1)})

    def agent(self, *extra: str, preexec: object = None) -> Agent:
        a = Agent(self.tmp, self.store.root, self.pub_key, "--serve-secrets", *extra,
                  env={"SOPS_AGE_KEY_FILE": str(ACME_KEY)}) if preexec is None else \
            _limited_agent(self, *extra)
        a.wait(lambda: a.get("/health/ready")[0] == 200, "ready")
        return a


def _limited_agent(env: Env, *extra: str) -> Agent:
    """An agent whose open-file limit is 128 (as in the incident)."""
    orig = subprocess.Popen

    def popen(*args: object, **kw: object) -> subprocess.Popen[bytes]:
        kw["preexec_fn"] = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128))
        return orig(*args, **kw)  # type: ignore[call-overload,no-any-return]

    subprocess.Popen = popen  # type: ignore[misc]
    try:
        return Agent(env.tmp, env.store.root, env.pub_key, *extra)
    finally:
        subprocess.Popen = orig  # type: ignore[misc]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    return Env(tmp_path_factory.mktemp("agenthttp"))


@pytest.fixture(scope="module")
def agent(env: Env) -> Iterator[Agent]:
    a = env.agent("--allow-host", SERVICE)
    yield a
    a.stop()


def exchange(port: int, raw: bytes, timeout: float = 5) -> tuple[bytes, bool]:
    """Send raw bytes, read until the agent closes (True) or goes quiet (False)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(raw)
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except TimeoutError:
            return out, False
        return out, True


def status(resp: bytes) -> int:
    return int(resp.split(b" ", 2)[1])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


H = b"Host: localhost\r\n"
MALFORMED = {
    "space before colon": (b"GET /v1/targets HTTP/1.1\r\nHost : localhost\r\n\r\n", 400),
    "header line without colon": (b"GET /v1/targets HTTP/1.1\r\n" + H + b"garbage\r\n\r\n", 400),
    "NUL in a value": (b"GET /v1/targets HTTP/1.1\r\n" + H + b"X-A: a\x00b\r\n\r\n", 400),
    "HTTP/1.1x": (b"GET /v1/targets HTTP/1.1x\r\n" + H + b"\r\n", 400),
    "HTTP/1.7": (b"GET /v1/targets HTTP/1.7\r\n" + H + b"\r\n", 505),
    "HTTP/2.0": (b"GET /v1/targets HTTP/2.0\r\n" + H + b"\r\n", 505),
    "bare LF": (b"GET /v1/targets HTTP/1.1\n" + H.replace(b"\r", b"") + b"\n", 400),
    "HTTP/1.1 without Host": (b"GET /v1/targets HTTP/1.1\r\n\r\n", 400),
    "two Host headers": (b"GET /v1/targets HTTP/1.1\r\n" + H + b"Host: evil.example\r\n\r\n", 400),
    "17 KB header": (b"GET /v1/targets HTTP/1.1\r\n" + H + b"X-Big: " + b"a" * 17_000 + b"\r\n\r\n", 431),
    "100 headers": (b"GET /v1/targets HTTP/1.1\r\n" + H + b"".join(b"X-%d: 1\r\n" % i for i in range(100))
                    + b"\r\n", 431),
    "a body": (b"GET /v1/targets HTTP/1.1\r\n" + H + b"Content-Length: 2\r\n\r\n{}", 413),
    "chunked body": (b"GET /v1/targets HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 413),
    "absolute-form target": (b"GET http://evil.example/v1/targets HTTP/1.1\r\n" + H + b"\r\n", 400),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_request_is_answered_and_closed(agent: Agent, case: str) -> None:
    raw, want = MALFORMED[case]
    out, closed = exchange(agent.port, raw)
    assert closed, f"{case}: connection left open: {out[:200]!r}"
    assert status(out) == want, out[:300]
    assert b"\r\nConnection: close\r\n" in out.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    assert out.count(b"HTTP/1.1 ") == 1


def test_smuggled_request_in_a_body_is_not_answered(agent: Agent) -> None:
    smuggled = f"GET {SECRET} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()
    raw = (b"GET /v1/targets HTTP/1.1\r\n" + H + b"Content-Length: 0\r\nContent-Length: "
           + str(len(smuggled)).encode() + b"\r\n\r\n" + smuggled)
    out, closed = exchange(agent.port, raw)
    assert closed and status(out) == 400 and out.count(b"HTTP/1.1 ") == 1
    assert b"CANARY" not in out


def test_dns_rebinding_host_is_refused(agent: Agent) -> None:
    evil = f"evil.attacker.example:{agent.port}".encode()
    for path in (SECRET, f"/v1/targets/{T}", "/v1/targets"):
        out, _ = exchange(agent.port, b"GET " + path.encode() + b" HTTP/1.1\r\nHost: " + evil
                          + b"\r\nConnection: close\r\n\r\n")
        assert status(out) == 421 and b"CANARY" not in out, out[:300]
    # a name given with --allow-host: non-secret routes yes, secrets no
    svc = f"Host: {SERVICE}:{agent.port}\r\nConnection: close\r\n\r\n".encode()
    out, _ = exchange(agent.port, f"GET /v1/targets/{T} HTTP/1.1\r\n".encode() + svc)
    assert status(out) == 200
    out, _ = exchange(agent.port, f"GET {SECRET} HTTP/1.1\r\n".encode() + svc)
    assert status(out) == 403 and b"CANARY" not in out
    for host in (f"localhost:{agent.port}", "127.0.0.1", f"[::1]:{agent.port}", "LOCALHOST"):
        out, _ = exchange(agent.port, f"GET {SECRET} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        assert status(out) == 200 and b"CANARY" in out, host


def test_if_none_match_gives_304_only_for_what_exists(agent: Agent) -> None:
    with httpx.Client(base_url=agent.base) as c:
        etag = c.get(f"/v1/targets/{T}").headers["etag"]
        assert c.get(f"/v1/targets/{T}", headers={"If-None-Match": etag}).status_code == 304
        assert c.get(f"/v1/targets/{T}", headers={"If-None-Match": f'"x", W/{etag}'}).status_code == 304
        assert c.get("/v1/targets", headers={"If-None-Match": etag}).status_code == 304
        assert c.get("/v1/targets/acme/prod/nope", headers={"If-None-Match": etag}).status_code == 404
        assert c.get(f"/v1/targets/{T}/values/nope", headers={"If-None-Match": "*"}).status_code == 404


def test_head_has_no_body_and_keeps_the_connection_usable(agent: Agent) -> None:
    with httpx.Client(base_url=agent.base) as c:  # h11: a body after HEAD breaks the next answer
        for path in ("/v1/targets", f"/v1/targets/{T}", "/health/live", "/v1/status", "/v1/watch"):
            h = c.head(path, timeout=5)
            assert h.status_code == 200 and h.content == b"", path
            g = c.get("/v1/targets", timeout=5)
            assert g.status_code == 200 and T in g.json()["targets"]
        assert h.headers["content-type"] == "text/event-stream"
    out, _ = exchange(agent.port, b"HEAD /v1/targets HTTP/1.1\r\n" + H + b"\r\nGET /health/live HTTP/1.1\r\n" + H
                      + b"Connection: close\r\n\r\n")
    head, rest = out.split(b"\r\n\r\n", 1)
    assert b"Content-Length: " in head and rest.startswith(b"HTTP/1.1 200 OK")


def test_sse_first_event_is_not_empty_and_resumes_with_last_event_id(env: Env) -> None:
    a = env.agent()
    try:
        with httpx.Client(base_url=a.base, timeout=10) as c:
            with connect_sse(c, "GET", "/v1/watch") as source:
                first = next(iter(source.iter_sse()))
            assert first.event == "version" and json.loads(first.data)["version"] == env.v1
            assert first.retry == 1000 and first.id == "1"
            # resuming from an unknown or older id: the current state at once
            with connect_sse(c, "GET", "/v1/watch", headers={"Last-Event-ID": "0"}) as source:
                ev = next(iter(source.iter_sse()))
            assert ev.id == "1" and json.loads(ev.data)["version"] == env.v1
            # resuming from the current id: nothing until the next version
            with connect_sse(c, "GET", "/v1/watch", headers={"Last-Event-ID": "1"}) as source:
                events = source.iter_sse()
                v2 = env.publisher.publish({T: chat(2)})
                ev = next(iter(events))
            assert ev.id == "2" and json.loads(ev.data)["version"] == v2 and ev.retry == 1000
    finally:
        a.stop()
        env.v1 = env.publisher.publish({T: chat(1)})


def test_slowloris_connections_are_closed_by_the_header_timeout(env: Env) -> None:
    a = env.agent("--header-timeout", "2", "--idle-timeout", "2")
    socks = [socket.create_connection(("127.0.0.1", a.port), timeout=10) for _ in range(30)]
    try:
        closed: set[int] = set()
        line = b"GET /v1/targets HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"a" * 50
        deadline = time.monotonic() + 15
        for i in range(len(line)):
            if len(closed) == len(socks) or time.monotonic() > deadline:
                break
            for n, s in enumerate(socks):
                if n not in closed:
                    try:
                        s.sendall(line[i:i + 1])
                    except OSError:
                        closed.add(n)
            assert a.get("/health/live")[0] == 200
            time.sleep(0.5)
        for n, s in enumerate(socks):
            if n not in closed:
                s.settimeout(5)
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                assert data == b"" or status(data) == 408
        # an idle keep-alive connection is closed too
        idle = socket.create_connection(("127.0.0.1", a.port), timeout=10)
        idle.sendall(b"GET /health/live HTTP/1.1\r\n" + H + b"\r\n")
        first = idle.recv(4096)
        assert status(first) == 200
        assert idle.recv(4096) == b""  # closed after ~2 s idle, well before the 10 s socket timeout
        idle.close()
    finally:
        for s in socks:
            s.close()
        a.stop()


def test_idle_connections_and_a_client_that_never_reads_cost_bounded_memory(env: Env) -> None:
    a = env.agent()
    idle = [socket.create_connection(("127.0.0.1", a.port), timeout=10) for _ in range(200)]
    hog = socket.socket()
    hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    hog.connect(("127.0.0.1", a.port))
    hog.setblocking(False)
    req = f"GET /v1/targets/{T} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode() * 100
    try:
        sent, deadline = 0, time.monotonic() + 20
        while sent < 100_000 and time.monotonic() < deadline:  # 100k pipelined requests, never reading
            try:
                hog.send(req)
                sent += 100
            except BlockingIOError:
                time.sleep(0.05)
        time.sleep(1)
        assert a.get("/health/live")[0] == 200
        rss_mb = rss_kib(a.proc.pid) / 1024
        assert rss_mb < 64, f"agent RSS {rss_mb:.0f} MB with 200 idle connections and a non-reading client"
    finally:
        hog.close()
        for s in idle:
            s.close()
        a.stop()


def _hold(port: int, n: int) -> list[socket.socket]:
    socks = []
    for _ in range(n):  # all at once, as in the incident; held open, sending nothing
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        socks.append(s)
    return socks


def _accept_queue(port: int) -> int:
    """Connections waiting in the kernel for the agent listening on ``port`` to accept them."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == f"0100007F:{port:04X}" and fields[3] == "0A":  # 127.0.0.1:port, LISTEN
            return int(fields[4].split(":")[1], 16)  # rx_queue of a listening socket: its accept queue
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


def test_past_the_connection_cap_health_still_answers_and_the_rest_gets_503(env: Env) -> None:
    a = env.agent("--header-timeout", "60", "--max-connections", "20")
    socks = _hold(a.port, 200)
    try:
        # All arrived (20 served, 8 silent in the reserve, the rest dropped): the agent has
        # accepted every one, then the reserve's silent slots are older than their grace.
        a.wait(lambda: _accept_queue(a.port) == 0, "the 200 connections accepted")
        time.sleep(3 * RESERVE_GRACE)
        for _ in range(5):  # each probe takes the slot of a silent reserve connection
            assert a.get("/health/live")[0] == 200
        out, closed = exchange(a.port, b"GET /v1/targets HTTP/1.1\r\n" + H + b"\r\n")
        assert status(out) == 503 and closed and b"health" in out
        for s in socks:
            s.close()
        socks.clear()
        a.wait(lambda: a.get("/v1/targets")[0] == 200, "connections freed")
    finally:
        for s in socks:
            s.close()
        a.stop()


def test_a_small_open_file_limit_lowers_the_cap_and_keeps_health_and_polling_working(env: Env) -> None:
    a = env.agent("--header-timeout", "60", preexec=True)  # RLIMIT_NOFILE 128, 200 connections
    socks = _hold(a.port, 200)
    try:
        answered = 0
        for _ in range(10):  # while the 200 connections are still arriving, a probe may lose a race
            with contextlib.suppress(OSError):
                answered += a.get("/health/live")[0] == 200
            time.sleep(0.3)
        assert answered >= 7 and a.get("/health/live")[0] == 200
        v2 = env.publisher.publish({T: chat(2)})
        # past the cap only /health/* is answered; its version shows polling still works
        a.wait(lambda: json.loads(a.get("/health/ready")[1])["version"] == v2, "polling still works")
        log = a.log.read_text()
        assert "lowered to" in log and "Too many open files" not in log
    finally:
        for s in socks:
            s.close()
        a.stop()
        env.v1 = env.publisher.publish({T: chat(1)})
