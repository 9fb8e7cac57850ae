"""A loopback TCP proxy that can be switched down, truncate blob downloads, and counts bytes.

Used by the runtime tests (a real source going down and coming back) and by
benchmarks/runtime_bench.py (bytes on the wire for a no-change poll).
"""

from __future__ import annotations

import contextlib
import socket
import threading


class Proxy:
    """Forward 127.0.0.1:<port> to ``upstream``; ``mode`` is "up", "down" or "truncate"."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.mode = "up"
        self.bytes_in = 0  # client -> upstream
        self.bytes_out = 0  # upstream -> client
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def reset_counts(self) -> None:
        with self._lock:
            self.bytes_in = self.bytes_out = 0

    def close(self) -> None:
        self.sock.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.mode == "down":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                conn.close()  # connection reset
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            up = socket.create_connection(self.upstream)
        except OSError:
            conn.close()
            return
        first = conn.recv(65536)
        mode = self.mode
        truncate = mode == "truncate" and b"/blobs/sha256:" in first.split(b"\r\n", 1)[0]
        if mode == "truncate":  # one request per connection, so that each blob GET is seen here
            first = first.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
        with self._lock:
            self.bytes_in += len(first)
        up.sendall(first)
        threading.Thread(target=self._pump, args=(conn, up, "in", mode), daemon=True).start()
        if truncate:
            data = b""
            while chunk := up.recv(65536):
                data += chunk
            conn.sendall(data[: len(data) - 20])
            for s in (conn, up):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            return
        self._pump(up, conn, "out", mode)

    def _pump(self, src: socket.socket, dst: socket.socket, direction: str, mode: str) -> None:
        try:
            while chunk := src.recv(65536):
                if self.mode != mode:  # a kept-alive connection ends when the network changes
                    break
                with self._lock:
                    if direction == "in":
                        self.bytes_in += len(chunk)
                    else:
                        self.bytes_out += len(chunk)
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
