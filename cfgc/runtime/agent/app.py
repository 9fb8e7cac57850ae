"""The agent: a Syncer for a set of targets, served over loopback HTTP.

Routes (GET/HEAD):

    /v1/targets                          the target names served
    /v1/targets/{target}                 the compiled target (secrets as references)
    /v1/targets/{target}/values/{path}   one value at a dotted path
    /v1/targets/{target}/secrets/{path}  a decrypted secret (only with --serve-secrets)
    /v1/status                           the runtime status (version, staleness, failures)
    /v1/watch                            server-sent events: one "version" event per new version
    /health/live, /health/ready, /metrics

Target and value responses are serialised once per version (values on first
use) and sent as prepared bytes; every response carries ``ETag`` and
``X-Cfgc-Version``; ``If-None-Match`` gives 304.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from cfgc.runtime.agent.http import Connection, response
from cfgc.runtime.agent.metrics import Histogram, render
from cfgc.runtime.secrets import SecretResolver
from cfgc.runtime.snapshot import BundleSnapshot, SecretReference
from cfgc.runtime.sync import ChangeEvent, Syncer
from cfgc.secrets import Keyring

log = logging.getLogger("cfgc.agent")
_MISSING: Any = object()
MAX_VALUES = 20000


def _json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def _error(status: int, message: str, keep: bool = True) -> bytes:
    return response(status, _json({"error": message}), keep_alive=keep)


class Prepared:
    """The responses of one version."""

    def __init__(self, snap: BundleSnapshot, keyring: Keyring | None) -> None:
        self.snapshot = snap
        self.etag = f'"{snap.version}-{snap.serial}"'
        self.extra = (("ETag", self.etag), ("X-Cfgc-Version", snap.version), ("X-Cfgc-Serial", str(snap.serial)))
        self.targets = {name: response(200, t.raw + b"\n", extra=self.extra) for name, t in snap.targets.items()}
        self.index = response(200, _json({"version": snap.version, "serial": snap.serial,
                                          "targets": sorted(snap.targets)}), extra=self.extra)
        self.not_modified = ("HTTP/1.1 304 Not Modified\r\nConnection: keep-alive\r\n"
                             + "".join(f"{k}: {v}\r\n" for k, v in self.extra) + "\r\n").encode()
        self.values: dict[tuple[str, str], bytes] = {}
        self.resolver = SecretResolver(snap, keyring) if keyring is not None else None

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
        if len(self.values) < MAX_VALUES:
            self.values[key] = out
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

    def __init__(self, syncer: Syncer, keyring: Keyring | None = None) -> None:
        self.syncer = syncer
        self.keyring = keyring  # set only with --serve-secrets
        self.prepared: Prepared | None = None
        self.latency = Histogram()
        self.requests: dict[str, int] = {}
        self.connections: set[Connection] = set()
        self.watchers: set[Connection] = set()
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

    def _event(self, snap: BundleSnapshot) -> bytes:
        data = json.dumps({"version": snap.version, "serial": snap.serial, "targets": sorted(snap.targets)})
        return f"id: {snap.serial}\nevent: version\ndata: {data}\n\n".encode()

    def _broadcast(self, snap: BundleSnapshot) -> None:
        self._send(self._event(snap))

    def heartbeat(self) -> None:
        self._send(b": keep-alive\n\n")

    def _send(self, msg: bytes) -> None:
        for c in list(self.watchers):
            if c.transport is None:
                self.watchers.discard(c)
            else:
                c.write(msg)

    # -- requests ------------------------------------------------------------
    def observe(self, seconds: float, code: bytes) -> None:
        self.latency.observe(seconds)
        k = code.decode()
        self.requests[k] = self.requests.get(k, 0) + 1

    def connection(self) -> Connection:
        return Connection(self.handle, self.observe, self.connections)

    def handle(self, method: str, path: str, headers: dict[str, str], conn: Connection) -> bytes | None:
        head = method == "HEAD"
        if path.startswith("/v1/targets/"):
            p = self._current()
            if p is None:
                return _error(503, "no verified version loaded yet")
            rest = path[len("/v1/targets/"):]
            if headers.get("if-none-match") == p.etag:
                return p.not_modified
            out = p.targets.get(rest)
            if out is None:
                target, sep, dotted = rest.partition("/values/")
                if sep:
                    out = p.value(target, dotted)
                else:
                    target, sep, dotted = rest.partition("/secrets/")
                    out = p.secret(target, dotted) if sep else _error(404, f"no target {rest!r} (see /v1/targets)")
            return _strip_body(out) if head else out
        if path == "/health/live":
            return response(200, b'{"status":"live"}\n', head=head)
        if path == "/health/ready":
            st = self.syncer.status()
            body = _json({"status": "ready" if st["ready"] else "not ready", "version": st["version"],
                          "stale": st["stale"], "expired": st["expired"], "pointer_expires": st["pointer_expires"],
                          "origin": st["origin"], "last_error": st["last_error"]})
            return response(200 if st["ready"] else 503, body, head=head)
        if path == "/metrics":
            p = self._current()
            body = render(self.syncer.status(), self.requests, self.latency,
                          len(p.snapshot.targets) if p else 0)
            return response(200, body, "text/plain; version=0.0.4", head=head)
        if path == "/v1/status":
            return response(200, _json(self.syncer.status()), head=head)
        if path in ("/v1/targets", "/v1/targets/"):
            p = self._current()
            return (p.index if p else _error(503, "no verified version loaded yet"))
        if path == "/v1/watch":
            conn.streaming = True
            conn.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                       b"Connection: keep-alive\r\n\r\n")
            snap = self.syncer.snapshot
            conn.write(b"retry: 1000\n\n" + (self._event(snap) if snap is not None else b""))
            self.watchers.add(conn)
            self.observe(0.0, b"200")
            return None
        return _error(404, f"no route {path}")


def _strip_body(resp: bytes) -> bytes:
    end = resp.find(b"\r\n\r\n")
    return resp[: end + 4] if end >= 0 else resp
