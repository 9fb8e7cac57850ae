"""A deliberately tiny HTTP/1.1 server on asyncio protocols.

Just what a config sidecar needs: GET/HEAD, keep-alive, pipelining, no
request bodies, responses built as whole byte strings (usually prepared once
per config version).  No per-request task, no stream objects: parsing is a
``bytes.find`` and a split, so a request costs tens of microseconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from email.utils import formatdate
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

MAX_HEAD = 16 * 1024

Handler = Callable[[str, str, dict[str, str], "Connection"], "bytes | None"]


def response(status: int, body: bytes, content_type: str = "application/json", *, keep_alive: bool = True,
             extra: tuple[tuple[str, str], ...] = (), head: bool = False) -> bytes:
    """A complete HTTP/1.1 response."""
    reason = HTTPStatus(status).phrase
    lines = [f"HTTP/1.1 {status} {reason}", f"Content-Type: {content_type}", f"Content-Length: {len(body)}",
             f"Connection: {'keep-alive' if keep_alive else 'close'}"]
    lines += [f"{k}: {v}" for k, v in extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if head else body)


def close_variant(resp: bytes) -> bytes:
    """The same response with ``Connection: close``."""
    return resp.replace(b"\r\nConnection: keep-alive\r\n", b"\r\nConnection: close\r\n", 1)


def http_date() -> str:
    return formatdate(usegmt=True)


class Connection(asyncio.Protocol):
    """One client connection."""

    def __init__(self, handler: Handler, on_latency: Callable[[float, bytes], None], connections: set[Connection]) -> None:
        self.handler = handler
        self.on_latency = on_latency
        self.connections = connections
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.streaming = False  # an SSE stream owns the connection now

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.connections.discard(self)
        self.transport = None

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self.streaming:
            return
        started = time.perf_counter()
        buf = self.buf + data if self.buf else data
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    self._fail(431)
                    return
                self.buf = buf
                return
            head, buf = buf[:end].decode("latin-1"), buf[end + 4:]
            lines = head.split("\r\n")
            parts = lines[0].split(" ")
            if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                self._fail(400)
                return
            method, target, version = parts
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            if headers.get("content-length", "0") not in ("", "0") or "transfer-encoding" in headers:
                self._fail(413)
                return
            conn = headers.get("connection", "").lower()
            keep = conn != "close" if version == "HTTP/1.1" else conn == "keep-alive"
            path = target.split("?", 1)[0]
            if "%" in path:
                path = unquote(path)
            if method not in ("GET", "HEAD"):
                out: bytes | None = response(405, b'{"error":"only GET and HEAD"}\n', keep_alive=keep,
                                             extra=(("Allow", "GET, HEAD"),))
            else:
                out = self.handler(method, path, headers, self)
            if self.streaming:
                self.buf = b""
                return
            if out is None:
                out = response(500, b'{"error":"internal error"}\n', keep_alive=False)
                keep = False
            if not keep:
                out = close_variant(out)
            self.write(out)
            self.on_latency(time.perf_counter() - started, out[9:12])
            if not keep:
                self.close()
                return
            if not buf:
                self.buf = b""
                return

    def _fail(self, status: int) -> None:
        self.write(response(status, b'{"error":"bad request"}\n', keep_alive=False))
        self.close()
