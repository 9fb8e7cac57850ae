"""Running the agent: listening socket, signals, logging, graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import os
import resource
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from cfgc.base.errors import UsageError
from cfgc.runtime.agent.app import Agent
from cfgc.runtime.agent.http import Limits
from cfgc.runtime.memory import prepare_allocator

log = logging.getLogger("cfgc.agent")
HEARTBEAT = 15.0
SWEEP = 1.0  # how often header/idle deadlines are checked (so they hold to within a second)
FD_RESERVE = 32  # descriptors kept for everything but client connections (cache, store, logs)


def _nofile() -> int | None:
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return None if soft == resource.RLIM_INFINITY else soft


def accept_burst(soft: int | None) -> int:
    """The listen backlog, which is also how many connections asyncio accepts in one go."""
    return 1024 if soft is None else min(1024, max(16, soft // 8))


def fit_limits(limits: Limits, soft: int | None) -> Limits:
    """Lower max_connections so that it, the health reserve and one accept burst fit the open-file limit.

    Without this, accept() fails with EMFILE once the limit is reached and nothing, not even
    /health/live, is answered.
    """
    if soft is None:
        return limits
    # Accepted sockets reach the protocol (and the cap) a few loop iterations later, and
    # dropped ones close one iteration later: leave room for several accept bursts.
    room = soft - FD_RESERVE - limits.health_reserve - 3 * accept_burst(soft)
    if limits.max_connections <= room:
        return limits
    fitted = max(1, room)
    log.warning("--max-connections %d lowered to %d to fit the open-file limit (%d)",
                limits.max_connections, fitted, soft, extra={"event": "limits"})
    return Limits(limits.header_timeout, limits.idle_timeout, fitted, limits.health_reserve)


def parse_listen(listen: str) -> tuple[str, int] | str:
    """``127.0.0.1:8080``, ``[::1]:8080`` -> (host, port); ``unix:/path`` -> path."""
    if listen.startswith("unix:"):
        return listen.removeprefix("unix:")
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise UsageError(f"--listen {listen!r}: expected HOST:PORT or unix:/path/to.sock")
    return host.strip("[]"), int(port)


def is_local(addr: tuple[str, int] | str) -> bool:
    """A unix socket or a loopback address."""
    if isinstance(addr, str):
        return True
    if addr[0] == "localhost":
        return True
    try:
        return ipaddress.ip_address(addr[0]).is_loopback
    except ValueError:
        return False


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg (+ exception)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(), "logger": record.name, "msg": record.getMessage(),
        }
        for key in ("event", "version", "serial", "listen", "reason"):
            if hasattr(record, key):
                out[key] = getattr(record, key)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def setup_logging(fmt: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("cfgc")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


def run(agent: Agent, addr: tuple[str, int] | str) -> None:
    """Serve until SIGTERM/SIGINT; then stop accepting, close streams, stop polling."""
    prepare_allocator()
    asyncio.run(_serve(agent, addr))


async def _serve(agent: Agent, addr: tuple[str, int] | str) -> None:
    loop = asyncio.get_running_loop()
    agent.loop = loop
    soft = _nofile()
    agent.server.limits = fit_limits(agent.server.limits, soft)
    if isinstance(addr, str):
        with contextlib.suppress(FileNotFoundError):
            if Path(addr).is_socket():
                os.unlink(addr)
        server = await loop.create_unix_server(agent.connection, addr, backlog=accept_burst(soft))
        os.chmod(addr, 0o660)
        where = f"unix:{addr}"
    else:
        server = await loop.create_server(agent.connection, addr[0], addr[1], reuse_address=True,
                                          backlog=accept_burst(soft))
        where = f"{addr[0]}:{addr[1]}"
    log.info("listening on %s", where, extra={"event": "listening", "listen": where})
    threading.Thread(target=agent.syncer.start, kwargs={"require": False}, name="cfgc-sync-start",
                     daemon=True).start()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def heartbeat() -> None:
        while True:
            await asyncio.sleep(HEARTBEAT)
            agent.heartbeat()

    async def sweep() -> None:
        while True:
            await asyncio.sleep(SWEEP)
            agent.server.sweep(time.monotonic())

    beat = loop.create_task(heartbeat())
    swept = loop.create_task(sweep())
    await stop.wait()
    log.info("shutting down", extra={"event": "shutdown"})
    beat.cancel()
    swept.cancel()
    server.close()
    for c in list(agent.connections):
        c.close()
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(server.wait_closed(), 5)
    agent.syncer.stop()
    if isinstance(addr, str):
        with contextlib.suppress(OSError):
            os.unlink(addr)
    log.info("stopped", extra={"event": "stopped"})
