"""The agent's HTTP connection protocol, fed bytes by hand (no sockets): framing, limits, backpressure."""

from __future__ import annotations

from typing import Any

from cfgc.runtime.agent.http import (
    HIGH_WATER,
    MAX_HEAD,
    READ_SIZE,
    Connection,
    Limits,
    Server,
    response,
)


class FakeTransport:
    def __init__(self) -> None:
        self.out = bytearray()
        self.closed = self.aborted = self.reading_paused = False

    def write(self, data: bytes) -> None:
        self.out += data

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def pause_reading(self) -> None:
        self.reading_paused = True

    def resume_reading(self) -> None:
        self.reading_paused = False

    def set_write_buffer_limits(self, high: int) -> None:
        assert high == HIGH_WATER


BODY = response(200, b"x" * 1000)


def server(limits: Limits | None = None) -> tuple[Server, list[tuple[str, str]]]:
    seen: list[tuple[str, str]] = []

    def handler(method: str, path: str, headers: dict[str, str], conn: Any) -> bytes:
        seen.append((method, path))
        return BODY

    return Server(handler, lambda s, c: None, limits or Limits()), seen


def connect(srv: Server) -> tuple[Connection, FakeTransport]:
    c, t = srv.connection(), FakeTransport()
    c.connection_made(t)
    return c, t


def feed(c: Connection, data: bytes) -> None:
    for i in range(0, len(data), READ_SIZE):
        chunk = data[i:i + READ_SIZE]
        buf = c.get_buffer(-1)
        buf[:len(chunk)] = chunk
        c.buffer_updated(len(chunk))


REQ = b"GET /v1/targets/a%2Fb?x=1 HTTP/1.1\r\nHost: localhost\r\n\r\n"


def test_pipelined_requests_are_answered_in_order_with_the_query_dropped_and_the_path_unquoted() -> None:
    srv, seen = server()
    c, t = connect(srv)
    feed(c, REQ * 3 + b"HEAD /x HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert seen == [("GET", "/v1/targets/a/b")] * 3 + [("HEAD", "/x")]
    assert bytes(t.out) == BODY * 3 + BODY[: BODY.index(b"\r\n\r\n") + 4]
    assert not t.closed


def test_a_client_that_does_not_read_is_not_read_either() -> None:
    srv, seen = server()
    c, t = connect(srv)
    c.pause_writing()  # the transport's buffer went over HIGH_WATER
    assert t.reading_paused
    feed(c, REQ * 50)
    assert seen == [] and len(c.pending) == 50 and t.out == b""
    c.resume_writing()
    assert len(seen) == 50 and not t.reading_paused and bytes(t.out) == BODY * 50


def test_a_head_growing_without_end_is_refused_within_a_bound() -> None:
    srv, _ = server()
    c, t = connect(srv)
    feed(c, b"GET / HTTP/1.1\r\nHost: localhost\r\nX: ")
    for _ in range(MAX_HEAD // 1000 + 2):
        if t.closed:
            break
        feed(c, b"a" * 1000)
    assert t.closed and bytes(t.out).startswith(b"HTTP/1.1 431 ")


def test_past_the_cap_only_health_is_answered_and_the_oldest_reserve_slot_is_dropped() -> None:
    srv, seen = server(Limits(max_connections=2, health_reserve=2))
    [connect(srv) for _ in range(2)]
    extra = [connect(srv) for _ in range(3)]
    assert extra[2][1].aborted and not extra[0][1].aborted  # the reserve is full of fresh slots
    extra[0][0].opened -= 1  # silent for a second: its slot is given to a newcomer
    extra[2] = connect(srv)
    assert extra[0][1].aborted and not extra[1][1].aborted and not extra[2][1].aborted
    c, t = extra[2]
    feed(c, b"GET /v1/targets HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert bytes(t.out).startswith(b"HTTP/1.1 503 ") and t.closed and seen == []
    c, t = extra[1]
    feed(c, b"GET /health/live HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert seen == [("GET", "/health/live")] and b"Connection: close" in t.out and t.closed


def test_deadlines_close_a_slow_head_with_408_and_an_idle_connection_silently() -> None:
    srv, _ = server(Limits(header_timeout=5, idle_timeout=50))
    slow, ts = connect(srv)
    idle, ti = connect(srv)
    feed(slow, b"GET / HTTP/1.1\r\n")
    feed(idle, REQ)
    srv.sweep(slow.deadline + 1)
    assert ts.closed and bytes(ts.out).startswith(b"HTTP/1.1 408 ") and not ti.closed
    srv.sweep(idle.deadline + 1)
    assert ti.closed and bytes(ti.out) == BODY


def test_unknown_method_is_405_and_keeps_the_connection() -> None:
    srv, seen = server()
    c, t = connect(srv)
    feed(c, b"DELETE /v1/targets HTTP/1.1\r\nHost: localhost\r\n\r\n" + REQ)
    assert bytes(t.out).startswith(b"HTTP/1.1 405 ") and not t.closed and len(seen) == 1
