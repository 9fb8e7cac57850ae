"""A single-threaded process that forks the agent's verifying children (runtime/isolate.py).

Why: a child forked from the running agent is a copy of a multi-threaded process.  A lock another
thread held at that instant (a store's connection-pool lock, a Syncer's stats lock, any lock a
library takes outside CPython's own fork handlers) is held forever in the child, which then hangs
until the parent's deadline kills it; and the child inherits the listening socket and every client
connection, so a stuck child holds the port and keeps closed connections open for their peers.

So the agent starts this server once, before it starts any thread, binds its address or loads a
decryption key (:func:`start` logs a warning when a second thread is alive: a process embedding
``run_agent`` may have one, and one fork then is still better than one per version).  The server is a fork of
the agent at that moment: the store (its pooled connections dropped), the trusted public keys and
the cache's location, nothing else.  It never runs verifying code itself; per request it forks a
child from its own single-threaded state, hands it the descriptors the agent sent (``SCM_RIGHTS``:
the answer's pipe and memory files), reports the child's start, and on the agent's word kills (if
still there) and reaps it.

Protocol (a private ``socketpair``, the agent is the only peer): a request is an 8-byte length with
the descriptors attached, then a pickle of ``(function, args)``; ``function(context, fds, *args)``
runs in the child and gives the (header, blobs) answer :mod:`cfgc.runtime.isolate` reads from the
pipe.  Pickle is read only by the server, from the agent that forked it (the same code and trust);
nothing a child or a store sends is unpickled.  Replies are one line of text.

It dies with the agent: ``PR_SET_PDEATHSIG`` (SIGKILL) where Linux has it, and EOF on the socket
everywhere; its children get the same signal when it dies.  It is never restarted: a new one forked
from the running agent would copy what the agent holds by then (the served version, a decryption
keyring).  If it is gone (killed), every verification is an ExternalError, the agent keeps serving
its version, and :meth:`ForkServer.alive` turns ``/health/live`` to 503 so the pod is restarted.
At most :data:`MAX_REQUEST` bytes of request and :data:`MAX_FDS` descriptors per request; a child is
given up at the deadline of :func:`isolate.run`, or earlier once it makes no progress (``IDLE``).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import logging
import os
import pickle
import signal
import socket
import stat
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

from cfgc.base.errors import ExternalError
from cfgc.runtime import isolate
from cfgc.runtime.memory import release_memory

log = logging.getLogger("cfgc.runtime")
MAX_FDS = 4
MAX_REQUEST = 64 * 1024 * 1024  # a request names the current version's files: ~40 bytes a file
REPLY_TIMEOUT = 30.0  # seconds for the server's reply to a start or a reap (a fork, a kill, a wait)
_LEN = struct.Struct("<Q")
REAP = b"reap\n"  # the agent read the answer (or gave up): kill the child if it is still there, reap it
PR_SET_PDEATHSIG = 1

Work = Callable[..., tuple[dict[str, Any], list[Any]]]


def _prctl() -> Any:
    # Looked up once, here: ctypes.util.find_library runs /sbin/ldconfig as a
    # process, which each child would otherwise do before arming its signal.
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux (no prctl): EOF on the socket remains
        return None


_PRCTL = _prctl()


def die_with_parent(parent: int) -> None:
    """SIGKILL this process when ``parent`` (its pid from before the fork) exits (Linux); exit now if it already has."""
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(0)


class ForkServer:
    """The agent's handle on its fork server: :meth:`run` a function in a fresh child of it."""

    def __init__(self, sock: socket.socket, pid: int) -> None:
        self._sock = sock
        self.pid = pid
        self._lock = threading.Lock()  # one request at a time: the replies are not tagged
        self._broken: str | None = None

    def run(self, function: Work, args: tuple[Any, ...] = (), fds: tuple[int, ...] = (),
            timeout: float = isolate.TIMEOUT) -> tuple[dict[str, Any], list[Any]]:
        """``function(context, fds, *args)`` in a child of the server; its answer, once the child is gone.

        The same answers and errors as :func:`isolate.run`; ExternalError when the server is gone
        or cannot fork (EAGAIN: the pod's process limit).
        """
        with self._lock:
            if self._broken is not None:
                raise ExternalError(f"could not start the verifying process: {self._broken}")
            try:
                r, w = os.pipe()
            except OSError as e:
                raise ExternalError(f"could not start the verifying process: {e}") from None
            try:
                try:
                    payload = pickle.dumps((function, args), protocol=pickle.HIGHEST_PROTOCOL)
                    self._sock.sendmsg([_LEN.pack(len(payload))], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                                                    struct.pack(f"{1 + len(fds)}i", w, *fds))])
                    self._sock.sendall(payload)
                except OSError as e:  # EPIPE: the server is gone
                    self._broken = f"the fork server is gone ({e})"
                    raise ExternalError(f"could not start the verifying process: {self._broken}") from None
                finally:
                    os.close(w)  # in flight, the server holds it; then only the child does
                started = self._reply(time.monotonic() + REPLY_TIMEOUT)
                word, _, pid = started.partition(" ")
                if word != "started" or not pid.isdigit():
                    raise ExternalError(f"could not start the verifying process: {started}")
                try:
                    return isolate.read_answer(r, time.monotonic() + timeout, isolate.Watch(int(pid)))
                finally:
                    with contextlib.suppress(OSError):  # a gone server is seen by _reply
                        self._sock.sendall(REAP)
                    self._reply(time.monotonic() + REPLY_TIMEOUT)
            finally:
                os.close(r)

    def _reply(self, deadline: float) -> str:
        line = b""
        try:
            while not line.endswith(b"\n"):
                self._sock.settimeout(max(0.0, deadline - time.monotonic()))
                got = self._sock.recv(256)
                if not got or len(line) > 4096:
                    raise OSError("the fork server closed its socket")
                line += got
        except OSError as e:  # EOF, a timeout, EPIPE: the server is gone or stuck; no later request works
            self._broken = f"the fork server is gone ({e})"
            raise ExternalError(f"could not start the verifying process: {self._broken}") from None
        return line.decode("utf-8", "replace").strip()

    def alive(self) -> bool:
        """False once the server is gone (it exited, was killed, or stopped answering)."""
        if self._broken is not None:
            return False
        try:
            done, _ = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            done = self.pid
        if done != 0:
            self._broken = "the fork server exited"
        return done == 0

    def close(self) -> None:
        """Stop the server (EOF on its socket) and reap it."""
        self._sock.close()
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)


def start(context: Any, prepare: Callable[[], None] = lambda: None) -> ForkServer:
    """Fork the server from this (single-threaded) process; ``context`` is what its children get.

    ``prepare`` runs in the server first (e.g. dropping a store's pooled connections).
    ExternalError when the socket pair or the fork fails.
    """
    if threading.active_count() != 1:
        log.warning("the verifying processes' server starts with %d other threads alive: a lock one of them "
                    "holds now stays held in it", threading.active_count() - 1)
    # What exists now (the imports, the settings) is shared with the server page by page until one
    # side writes it.  Frozen, the agent's collections never touch those objects again, so their
    # pages stay shared instead of being copied into the agent and left private to the server.
    gc.collect()
    gc.freeze()
    try:
        parent_end, server_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        parent = os.getpid()
        pid = os.fork()
    except OSError as e:
        raise ExternalError(f"could not start the verifying process server: {e}") from None
    if pid == 0:
        code = 0
        try:
            parent_end.close()
            die_with_parent(parent)
            _serve(server_end, context, prepare)
        except BaseException:  # noqa: BLE001 - the agent sees EOF and reports the server gone
            code = 1
        finally:
            os._exit(code)
    server_end.close()
    return ForkServer(parent_end, pid)


def _serve(sock: socket.socket, context: Any, prepare: Callable[[], None]) -> None:
    # The agent's signals (a terminal's ^C reaches the whole group): it dies with the agent instead.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    prepare()
    _close_sockets(keep=sock.fileno())
    release_memory()  # free heap pages it inherited go back (the agent keeps its own)
    while True:
        request = _request(sock)
        if request is None:
            return  # EOF: the agent is gone or closed the server
        fds, (function, args) = request
        server = os.getpid()
        try:
            pid = os.fork()
        except OSError as e:
            for fd in fds:
                os.close(fd)
            sock.sendall(f"{e}\n".encode())
            continue
        if pid == 0:
            sock.close()
            die_with_parent(server)
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, signal.SIG_DFL)
            isolate.child(functools.partial(function, context, fds[1:], *args), fds[0])  # never returns
        for fd in fds:
            os.close(fd)
        sock.sendall(f"started {pid}\n".encode())
        reap = b""
        while len(reap) < len(REAP):  # "reap\n", or EOF when the agent died while the child ran
            got = sock.recv(len(REAP) - len(reap))
            if not got:
                break
            reap += got
        isolate.reap(pid)
        if reap != REAP:
            return
        sock.sendall(b"reaped\n")


def _close_sockets(keep: int) -> None:
    """Close every socket but ``keep`` this process inherited: a store's connection, another server's end.

    The agent starts its server before it listens, but a process embedding ``run_agent`` may hold
    sockets of its own; a child must not keep any of them open for their peers.
    """
    try:
        fds = [int(n) for n in os.listdir("/proc/self/fd")]
    except OSError:  # no /proc: nothing to find them by
        return
    for fd in fds:
        with contextlib.suppress(OSError):
            if fd != keep and stat.S_ISSOCK(os.fstat(fd).st_mode):
                os.close(fd)


def _request(sock: socket.socket) -> tuple[list[int], tuple[Work, tuple[Any, ...]]] | None:
    head, ancdata, _, _ = sock.recvmsg(_LEN.size, socket.CMSG_SPACE(struct.calcsize("i") * (MAX_FDS + 1)))
    fds: list[int] = []
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.extend(struct.unpack(f"{len(data) // 4}i", data[:len(data) - len(data) % 4]))
    while head and len(head) < _LEN.size:  # a stream may split even 8 bytes
        more = sock.recv(_LEN.size - len(head))
        if not more:
            break
        head += more
    if len(head) < _LEN.size:
        for fd in fds:
            os.close(fd)
        return None
    (n,) = _LEN.unpack(head)
    if n > MAX_REQUEST or not fds:
        raise ValueError("a request beyond the bounds")
    buf = bytearray()
    while len(buf) < n:
        got = sock.recv(min(n - len(buf), 1 << 20))
        if not got:
            return None
        buf += got
    return fds, pickle.loads(bytes(buf))  # noqa: S301 - from the agent that forked this process
