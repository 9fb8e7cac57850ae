"""The agent: a Syncer for a set of targets, served over loopback HTTP.

Routes (GET/HEAD):

    /v1/targets                          the target names served
    /v1/targets/{target}                 the compiled target (secrets as references)
    /v1/targets/{target}/values/{path}   one value at a dotted path
    /v1/targets/{target}/secrets/{path}  a decrypted secret (only with --serve-secrets)
    /v1/status                           the runtime status (version, staleness, failures)
    /v1/watch                            server-sent events: one "version" event per new version
    /health/live, /health/ready, /metrics

Target and value responses are prepared on first use and sent as prepared
bytes; at most ``MAX_TARGET_RESPONSES`` target and ``MAX_VALUES`` value
responses are kept per version (oldest prepared dropped first), so memory
is the targets' bytes plus a bounded working set (docs/runtime.md, sizing); every response carries ``ETag`` and
``X-Cfgc-Version``; ``If-None-Match`` gives 304 for a resource that exists.
HEAD answers the same headers without a body.  ``Host`` must be a loopback
name (or an ``--allow-host`` name, secrets excepted): see hosts.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from cfgc.runtime.agent.hosts import LOOPBACK, REFUSED, HostPolicy
from cfgc.runtime.agent.http import Connection, Limits, Server, response
from cfgc.runtime.agent.metrics import Histogram, render
from cfgc.runtime.secrets import SecretResolver
from cfgc.runtime.snapshot import BundleSnapshot, SecretReference
from cfgc.runtime.sync import ChangeEvent, Syncer
from cfgc.secrets import Keyring

log = logging.getLogger("cfgc.agent")
_MISSING: Any = object()
MAX_VALUES = 4096  # value responses kept per version
MAX_TARGET_RESPONSES = 1024  # whole-target responses kept per version (each is the target's bytes + ~200)


def _json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def _error(status: int, message: str, keep: bool = True) -> bytes:
    return response(status, _json({"error": message}), keep_alive=keep)


def _keep(cache: dict[Any, bytes], key: object, out: bytes, bound: int) -> None:
    """Insert into a bounded cache, dropping the oldest entry when full (a dict keeps insertion order)."""
    if len(cache) >= bound:
        del cache[next(iter(cache))]
    cache[key] = out


class Prepared:
    """The responses of one version."""

    def __init__(self, snap: BundleSnapshot, keyring: Keyring | None) -> None:
        self.snapshot = snap
        self.etag = f'"{snap.version}-{snap.serial}"'
        self.extra = (("ETag", self.etag), ("X-Cfgc-Version", snap.version), ("X-Cfgc-Serial", str(snap.serial)))
        # Prepared on first request, bounded: a copy of every target's bytes would double the memory.
        self.targets: dict[str, bytes] = {}
        self.index = response(200, _json({"version": snap.version, "serial": snap.serial,
                                          "targets": sorted(snap.targets)}), extra=self.extra)
        self.not_modified = ("HTTP/1.1 304 Not Modified\r\nConnection: keep-alive\r\n"
                             + "".join(f"{k}: {v}\r\n" for k, v in self.extra) + "\r\n").encode()
        self.values: dict[tuple[str, str], bytes] = {}
        self.resolver = SecretResolver(snap, keyring) if keyring is not None else None

    def target(self, name: str) -> bytes | None:
        """The response for a whole target (None when there is no such target)."""
        t = self.snapshot.targets.get(name)
        if t is None:
            return None
        body = t.view()
        out = b"".join((response(200, b"", extra=self.extra, length=len(body) + 1), body, b"\n"))
        _keep(self.targets, name, out, MAX_TARGET_RESPONSES)
        return out

    def value(self, target: str, path: str) -> bytes:
        key = (target, path)
        out = self.values.get(key)
        if out is not None:
            return out
        t = self.snapshot.targets.get(target)
        if t is None:
            return _error(404, f"no target {target!r} (see /v1/targets)")
        v = t.flat.get(path, _MISSING)
        if v is _MISSING:
            return _error(404, t.missing(path).message)
        if isinstance(v, SecretReference):
            return _error(403, f"{path} is a secret: GET /v1/targets/{target}/secrets/{path} "
                               "(served only when the agent runs with --serve-secrets)")
        out = response(200, _json(v), extra=self.extra)
        _keep(self.values, key, out, MAX_VALUES)
        return out

    def secret(self, target: str, path: str) -> bytes:
        t = self.snapshot.targets.get(target)
        if t is None:
            return _error(404, f"no target {target!r}")
        if self.resolver is None:
            return _error(403, "secrets are not served: start the agent with --serve-secrets (loopback only)")
        ref = t.secrets.get(path)
        if ref is None:
            return _error(404, f"{path} is not a secret of {target}")
        try:
            value = self.resolver.value(ref, path)
        except Exception as e:  # noqa: BLE001 - the message names files and keys, never plaintext
            return _error(403, str(getattr(e, "message", e)))
        return response(200, _json(value), extra=(*self.extra, ("Cache-Control", "no-store")))


class Agent:
    """Serves the syncer's current snapshot."""

    def __init__(self, syncer: Syncer, keyring: Keyring | None = None, *, hosts: HostPolicy | None = None,
                 limits: Limits | None = None) -> None:
        self.syncer = syncer
        self.keyring = keyring  # set only with --serve-secrets
        self.hosts = hosts if hosts is not None else HostPolicy()
        self.prepared: Prepared | None = None
        self.latency = Histogram()
        self.requests: dict[str, int] = {}
        self.server = Server(self.handle, self.observe, limits or Limits())
        self.connections = self.server.connections
        self.watchers: dict[Connection, bool] = {}  # -> the retry field was sent
        self.loop: asyncio.AbstractEventLoop | None = None
        syncer.on_change(self._changed)

    # -- versions ------------------------------------------------------------
    def _changed(self, event: ChangeEvent) -> None:
        """On the polling thread: prepare the new responses, then tell the watchers."""
        self.prepared = Prepared(event.snapshot, self.keyring)
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self._broadcast, event.snapshot)

    def _current(self) -> Prepared | None:
        snap = self.syncer.snapshot
        p = self.prepared
        if snap is None:
            return None
        if p is None or p.snapshot is not snap:
            p = self.prepared = Prepared(snap, self.keyring)
        return p

    def _event(self, snap: BundleSnapshot, retry: bool) -> bytes:
        # retry: travels inside the first event block: a block of its own is an empty
        # event to spec-following clients.
        data = json.dumps({"version": snap.version, "serial": snap.serial, "targets": sorted(snap.targets)})
        return f"{RETRY if retry else ''}id: {snap.serial}\nevent: version\ndata: {data}\n\n".encode()

    def _broadcast(self, snap: BundleSnapshot) -> None:
        plain, first = self._event(snap, False), self._event(snap, True)
        for c, sent in list(self.watchers.items()):
            if self._alive(c):
                c.write(plain if sent else first)
                self.watchers[c] = True

    def heartbeat(self) -> None:
        for c in list(self.watchers):
            if self._alive(c):
                c.write(b": keep-alive\n\n")

    def _alive(self, c: Connection) -> bool:
        """False (and the stream closed) when gone or when the client does not read its events."""
        t = c.transport
        if t is None or t.is_closing() or t.get_write_buffer_size() > WATCH_BACKLOG:
            self.watchers.pop(c, None)
            c.close()
            return False
        return True

    def _watch(self, headers: dict[str, str], conn: Connection, head: bool) -> bytes | None:
        if head:
            return WATCH_HEAD
        conn.streaming = True
        conn.write(WATCH_HEAD)
        snap = self.syncer.snapshot
        last = headers.get("last-event-id")
        if snap is not None and last != str(snap.serial):
            # Events carry the whole state (the version served), not deltas: resuming from any
            # other id, known or not, is one event with the current version.
            conn.write(self._event(snap, True))
            self.watchers[conn] = True
        else:
            conn.write(b": waiting for a new version\n\n")
            self.watchers[conn] = False
        self.observe(0.0, b"200")
        return None

    # -- requests ------------------------------------------------------------
    def observe(self, seconds: float, code: bytes) -> None:
        self.latency.observe(seconds)
        k = code.decode()
        self.requests[k] = self.requests.get(k, 0) + 1

    def connection(self) -> Connection:
        return self.server.connection()

    def handle(self, method: str, path: str, headers: dict[str, str], conn: Connection) -> bytes | None:
        kind = self.hosts.classify(headers.get("host"))
        if kind == REFUSED:
            return MISDIRECTED
        if path.startswith("/v1/targets/"):
            p = self._current()
            if p is None:
                return _error(503, "no verified version loaded yet")
            rest = path[len("/v1/targets/"):]
            out = p.targets.get(rest) or p.target(rest)
            if out is None:
                target, sep, dotted = rest.partition("/values/")
                if sep:
                    out = p.value(target, dotted)
                else:
                    target, sep, dotted = rest.partition("/secrets/")
                    if sep and kind != LOOPBACK:
                        return SECRETS_LOOPBACK_ONLY
                    out = p.secret(target, dotted) if sep else _error(404, f"no target {rest!r} (see /v1/targets)")
            inm = headers.get("if-none-match")
            if inm is not None and out[9:12] == b"200" and _matches(inm, p.etag):
                return p.not_modified  # only for what exists
            return out
        if path == "/health/live":
            server = self.syncer.server
            # Without its fork server the agent can verify no new version: restart the pod.
            return LIVE if server is None or server.alive() else SERVER_GONE
        if path == "/health/ready":
            st = self.syncer.status()
            body = _json({"status": "ready" if st["ready"] else "not ready", "version": st["version"],
                          "stale": st["stale"], "expired": st["expired"], "pointer_expires": st["pointer_expires"],
                          "origin": st["origin"], "last_error": st["last_error"]})
            return response(200 if st["ready"] else 503, body)
        if path == "/metrics":
            p = self._current()
            body, ctype = render(self.syncer.status(), self.requests, self.latency,
                                 len(p.snapshot.targets) if p else 0, headers.get("accept"))
            return response(200, body, ctype, extra=VARY_ACCEPT)
        if path == "/v1/status":
            return response(200, _json(self.syncer.status()))
        if path in ("/v1/targets", "/v1/targets/"):
            p = self._current()
            if p is None:
                return _error(503, "no verified version loaded yet")
            inm = headers.get("if-none-match")
            return p.not_modified if inm is not None and _matches(inm, p.etag) else p.index
        if path == "/v1/watch":
            return self._watch(headers, conn, method == "HEAD")
        return _error(404, f"no route {path}")


def _matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 13.1.2: weak comparison against a list of entity tags, or ``*``."""
    if if_none_match == etag:
        return True
    tags = [t.strip() for t in if_none_match.split(",")]
    return "*" in tags or any(t.removeprefix("W/") == etag for t in tags)


RETRY = "retry: 1000\n"
VARY_ACCEPT = (("Vary", "Accept"),)  # /metrics answers OpenMetrics or text by Accept
WATCH_BACKLOG = 256 * 1024  # unread event bytes after which a watch stream is closed
WATCH_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
              b"Connection: keep-alive\r\n\r\n")
LIVE = response(200, b'{"status":"live"}\n')
SERVER_GONE = response(503, _json({"status": "not live: the verifying processes' server is gone, "
                                             "no new version can be verified"}))
MISDIRECTED = _error(421, "Host not served: only loopback names and --allow-host names are answered")
SECRETS_LOOPBACK_ONLY = _error(403, "secrets are served only to loopback Host names (localhost, 127.0.0.1, [::1])")
