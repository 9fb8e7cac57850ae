"""HTTP/1.1 for the agent: asyncio protocols, requests parsed by llhttp (httptools).

Just what a config sidecar needs: GET/HEAD, keep-alive, pipelining, no
request bodies, responses built as whole byte strings (usually prepared once
per config version).  No per-request task, no stream objects.

Hardening (every limit is in ``Limits`` and documented in docs/runtime.md):
malformed requests are answered 400 / 431 / 505 with ``Connection: close``
and the connection is closed (RFC 9112); a request head must arrive within
the header timeout, a keep-alive connection is closed after the idle timeout;
one read is at most ``READ_SIZE`` bytes and a connection whose output buffer
is above ``HIGH_WATER`` is not read any more (``pause_writing``) until the
client drains it, so a client that pipelines without reading costs a bounded
amount of memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

import httptools

MAX_HEAD = 16 * 1024  # request line + header lines, bytes
MAX_HEADERS = 64
READ_SIZE = 16 * 1024  # one recv; bounds the answers one read can produce before backpressure applies
RESERVE_GRACE = 0.1  # seconds a reserve slot (past the connection cap) may stay silent before it is reused
HIGH_WATER = 64 * 1024  # output buffered per connection before it stops being read
# The request headers the agent looks at; others are counted against the limits and dropped.
WANTED = {b"host": "host", b"if-none-match": "if-none-match", b"last-event-id": "last-event-id",
          b"content-length": "content-length", b"transfer-encoding": "transfer-encoding", b"accept": "accept"}

METHODS = {b"GET": "GET", b"HEAD": "HEAD"}

Handler = Callable[[str, str, dict[str, str], "Connection"], "bytes | None"]


@dataclass(frozen=True)
class Limits:
    """Per-server limits: timeouts in seconds, connection counts."""

    header_timeout: float = 10.0  # from connect (or a request's first byte) to the end of its head
    idle_timeout: float = 60.0  # keep-alive with no request, or output not drained by the client
    max_connections: int = 512
    health_reserve: int = 8  # connections past the cap that may ask /health/* only (oldest dropped first)


def response(status: int, body: bytes, content_type: str = "application/json", *, keep_alive: bool = True,
             extra: tuple[tuple[str, str], ...] = (), head: bool = False, length: int | None = None) -> bytes:
    """A complete HTTP/1.1 response (``length``: the Content-Length of a body the caller appends)."""
    reason = HTTPStatus(status).phrase
    size = len(body) if length is None else length
    lines = [f"HTTP/1.1 {status} {reason}", f"Content-Type: {content_type}", f"Content-Length: {size}",
             f"Connection: {'keep-alive' if keep_alive else 'close'}"]
    lines += [f"{k}: {v}" for k, v in extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if head else body)


def close_variant(resp: bytes) -> bytes:
    """The same response with ``Connection: close``."""
    return resp.replace(b"\r\nConnection: keep-alive\r\n", b"\r\nConnection: close\r\n", 1)


def strip_body(resp: bytes) -> bytes:
    """The head of a response (for HEAD: same headers, no body)."""
    end = resp.find(b"\r\n\r\n")
    return resp[: end + 4] if end >= 0 else resp


def _refusal(status: int, message: str) -> bytes:
    return response(status, b'{"error":"' + message.encode() + b'"}\n', keep_alive=False)


REFUSALS = {
    400: _refusal(400, "malformed request"),
    408: _refusal(408, "request head not received in time"),
    413: _refusal(413, "request bodies are not accepted"),
    431: _refusal(431, f"request head over {MAX_HEAD} bytes or {MAX_HEADERS} headers"),
    503: _refusal(503, "too many connections: only /health/* is answered"),
    505: _refusal(505, "only HTTP/1.0 and HTTP/1.1"),
}
METHOD_NOT_ALLOWED = response(405, b'{"error":"only GET and HEAD"}\n', extra=(("Allow", "GET, HEAD"),))
INTERNAL = _refusal(500, "internal error")


class _Stop(Exception):
    """Raised from a parser callback: stop parsing this connection's input."""


class Server:
    """What the connections share: the handler, the limits, the read buffer, the open connections."""

    def __init__(self, handler: Handler, on_latency: Callable[[float, bytes], None], limits: Limits) -> None:
        self.handler = handler
        self.on_latency = on_latency
        self.limits = limits
        self.connections: set[Connection] = set()
        self.overflow: deque[Connection] = deque()
        # One read buffer for all connections: the loop reads one socket at a time and
        # buffer_updated consumes it entirely before the next read.
        self.view = memoryview(bytearray(READ_SIZE))

    def connection(self) -> Connection:
        return Connection(self)

    def sweep(self, now: float) -> None:
        """Close connections past their deadline (called about once a second)."""
        for c in [c for c in self.connections if c.deadline < now]:
            c.expire()


class Connection(asyncio.BufferedProtocol):
    """One client connection."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.limits = server.limits
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.streaming = False  # an SSE stream owns the connection now
        self.closing = False
        self.overflow = False  # accepted past max_connections: health checks only
        self.paused = False
        self.pending: deque[tuple[str, str, dict[str, str], bool, float]] = deque()
        self.in_head = False
        self.began = False
        self.head_bytes = 0
        self.partial = 0
        self.nheaders = 0
        self.url = b""
        self.headers: dict[str, str] = {}
        self.started = 0.0
        self.fed = False  # received any bytes
        self.opened = self.now = time.monotonic()
        self.deadline = self.opened + self.limits.header_timeout

    # -- transport events -----------------------------------------------------
    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        conns = self.server.connections
        if len(conns) >= self.limits.max_connections:
            # Past the cap: a reserve slot that answers /health/* only, then closes.  When the
            # reserve is full, its oldest slot is given up if it has sent nothing for RESERVE_GRACE
            # (a probe sends its request at once); otherwise this connection is dropped.
            self.overflow = True
            reserve = self.server.overflow
            if len(reserve) >= self.limits.health_reserve:
                oldest = reserve[0]
                if oldest.fed or time.monotonic() - oldest.opened < RESERVE_GRACE:
                    self.closing = True
                    transport.abort()
                    return
                reserve.popleft().abort()
            reserve.append(self)
        conns.add(self)
        transport.set_write_buffer_limits(high=HIGH_WATER)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        if self.overflow:
            with contextlib.suppress(ValueError):
                self.server.overflow.remove(self)
        self.transport = None
        self.pending.clear()

    def pause_writing(self) -> None:
        self.paused = True
        if self.transport is not None and not self.streaming:
            self.transport.pause_reading()
        self.deadline = time.monotonic() + self.limits.idle_timeout

    def resume_writing(self) -> None:
        self.paused = False
        self.now = time.monotonic()
        try:
            while self.pending and not self.paused:
                self._answer(*self.pending.popleft())
        except _Stop:
            return
        if not self.paused and self.transport is not None and not self.closing and not self.streaming:
            self.transport.resume_reading()
            if not self.in_head:
                self.deadline = time.monotonic() + self.limits.idle_timeout

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.server.view

    def buffer_updated(self, nbytes: int) -> None:
        if self.streaming or self.closing:
            return
        self.began = False
        self.fed = True
        self.now = time.monotonic()  # one clock read per read, not per pipelined request
        try:
            self.parser.feed_data(self.server.view[:nbytes])
        except httptools.HttpParserUpgrade:
            self._fail(400)  # no protocol upgrades (and no CONNECT)
            return
        except httptools.HttpParserCallbackError:
            return  # stopped on purpose: already answered
        except httptools.HttpParserError as e:
            self._fail(505 if "invalid http version" in str(e).lower() else 400)
            return
        if self.in_head:
            # Bytes of a head still incomplete (llhttp buffers a partial header line): the
            # callbacks count only complete parts.  A read in which the head began is not
            # counted (part of it may be earlier requests), so the bound is MAX_HEAD + READ_SIZE.
            self.partial = 0 if self.began else self.partial + nbytes
            if self.partial > MAX_HEAD:
                self._fail(431)

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.abort()

    def expire(self) -> None:
        """The header or idle deadline passed."""
        self.deadline = float("inf")
        if self.in_head:
            self._fail(408)
        else:
            self.close()

    # -- llhttp callbacks -----------------------------------------------------
    def on_message_begin(self) -> None:
        if self.closing:
            raise _Stop
        self.in_head = self.began = True
        self.head_bytes = self.partial = self.nheaders = 0
        self.url = b""
        self.headers = {}
        self.started = time.perf_counter()
        self.deadline = self.now + self.limits.header_timeout

    def on_url(self, url: bytes) -> None:
        self.url += url
        self.head_bytes += len(url)
        if self.head_bytes > MAX_HEAD:
            self._fail(431)
            raise _Stop

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_bytes += len(name) + len(value) + 4
        self.nheaders += 1
        if self.head_bytes > MAX_HEAD or self.nheaders > MAX_HEADERS:
            self._fail(431)
            raise _Stop
        key = WANTED.get(name.lower())
        if key is not None:
            if key == "accept" and key in self.headers:  # a list header: repeats combine (RFC 9110 5.3)
                self.headers[key] += ", " + value.decode("latin-1")
                return
            if key in self.headers and key != "if-none-match":
                self._fail(400)  # two Host (RFC 9112 3.2), or a body framing we refuse anyway
                raise _Stop
            self.headers[key] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.in_head = False
        h = self.headers
        version = self.parser.get_http_version()
        if version != "1.1" and version != "1.0":
            self._fail(505)
            raise _Stop
        if not self.url.startswith(b"/") or (version == "1.1" and "host" not in h):
            self._fail(400)  # origin-form only; HTTP/1.1 requires Host
            raise _Stop
        if "transfer-encoding" in h or h.get("content-length", "0") != "0":
            self._fail(413)
            raise _Stop

    def on_message_complete(self) -> None:
        raw = self.parser.get_method()
        method = METHODS.get(raw) or raw.decode("latin-1")
        keep = self.parser.should_keep_alive() and not self.overflow
        url = self.url
        path = (url.split(b"?", 1)[0] if b"?" in url else url).decode("latin-1")
        if "%" in path:
            path = unquote(path, encoding="latin-1")
        if self.paused:
            self.pending.append((method, path, self.headers, keep, self.started))
        else:
            self._answer(method, path, self.headers, keep, self.started)

    # -- answers --------------------------------------------------------------
    def _answer(self, method: str, path: str, headers: dict[str, str], keep: bool, started: float) -> None:
        if method != "GET" and method != "HEAD":
            out: bytes | None = METHOD_NOT_ALLOWED
        elif self.overflow and not path.startswith("/health/"):
            out = REFUSALS[503]
        else:
            out = self.server.handler(method, path, headers, self)
        if self.streaming:
            self.deadline = float("inf")  # the stream's heartbeats keep it open until the client goes
            raise _Stop
        if out is None:
            out, keep = INTERNAL, False
        if method == "HEAD":
            out = strip_body(out)
        if not keep:
            out = close_variant(out)
        self.write(out)
        self.server.on_latency(time.perf_counter() - started, out[9:12])
        if not keep:
            self.close()
            raise _Stop
        if not self.in_head:
            self.deadline = self.now + self.limits.idle_timeout

    def _fail(self, status: int) -> None:
        if self.closing:
            return
        self.in_head = False
        self.write(REFUSALS[status])
        self.server.on_latency(0.0, str(status).encode())
        self.close()
