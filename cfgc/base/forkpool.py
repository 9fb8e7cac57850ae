"""Forked workers fed chunk positions through their own pipes, with no thread in this process.

:func:`cfgc.base.parallel.imap_chunks` used ``multiprocessing.Pool``, which
runs three threads in the parent.  One of them (the worker handler) waits on
the shared result pipe too, and while a result sits there unread it wakes,
polls every worker and waits again, round and round: 1.6 s of the parent's
CPU over the 1,563 chunks of a 100,000-target build, taken from the two cores
the workers compile on (0.7 s for 1,000 chunks of a bare pool, measured).
Here each worker has a pipe of its own each way, the chunks are inherited by
fork (only their positions travel out, four bytes each), and this process
wakes only when a result is there to read.

Each worker holds its next position while it works on one
(:data:`AHEAD`), so it never waits for this process between two chunks.
A worker that ends without its result (killed, out of memory) is an
:class:`~cfgc.base.errors.ExternalError` (exit 4), not a wait that never ends.
A worker never returns into the caller's stack: it leaves by ``os._exit``.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import struct
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NoReturn, TypeVar

from cfgc.base.errors import ExternalError

T = TypeVar("T")
R = TypeVar("R")

#: Positions a worker holds: the one it works on and the next, so it starts the
#: next chunk as soon as it has sent a result, however late this process reads it.
AHEAD = 2
_POSITION = struct.Struct("<I")
#: The position that tells a worker to end.  End of file alone is not enough: a child
#: forked elsewhere in this process (another thread's build, the host's own fork) may
#: hold a copy of the pipe's writing end, and the worker would then wait for it.
_END = 0xFFFFFFFF
_LENGTH = struct.Struct("<Q")
#: This process's ends of every live worker's pipes, of every pool (another thread's too):
#: closed in any child forked from here (ours, another pool's, the host's own), so a
#: worker sees its end as soon as its own parent closes its positions' pipe.
_LIVE: set[int] = set()


def _close_live() -> None:
    for fd in list(_LIVE):
        with contextlib.suppress(OSError):
            os.close(fd)
    _LIVE.clear()


os.register_at_fork(after_in_child=_close_live)


class _Worker:
    """One forked worker as this process sees it (mutable: its pipes are closed as it goes)."""

    __slots__ = ("held", "pid", "results", "tasks")

    def __init__(self, pid: int, tasks: int, results: int) -> None:
        self.pid = pid
        self.tasks = tasks  # positions go out here; closed (-1) once none is left: the worker ends
        self.results = results  # length-prefixed pickles of (ok, value) come back here
        self.held: list[int] = []  # positions sent and not yet answered, oldest first

    def close_tasks(self, end: bool = False) -> None:
        """Close the positions' pipe once (a descriptor closed twice may by then be another
        file's), after telling the worker to end when ``end``."""
        fd, self.tasks = self.tasks, -1
        if fd >= 0:
            _LIVE.discard(fd)
            try:
                if end:
                    with contextlib.suppress(OSError):  # a worker that is gone needs no telling
                        _write(fd, _POSITION.pack(_END))
            finally:
                os.close(fd)


def imap(
    fn: Callable[[T], R], chunks: Sequence[T], n: int, ordered: bool, start: Callable[[], None]
) -> Iterator[R]:
    """``fn`` of each chunk on ``n`` forked workers (``start`` runs first in each), yielded as
    results come (in the chunks' order when ``ordered``).

    An exception ``fn`` raises in a worker is raised here (as ``OSError`` with its text when
    it cannot be pickled); every worker is stopped and reaped before this generator ends,
    however it ends.
    """
    if len(chunks) >= _END:
        raise ValueError(f"at most {_END - 1} chunks")
    workers: list[_Worker] = []
    finished = False
    try:
        # Nothing the parent buffered may be written twice (a worker leaves by os._exit, unflushed).
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        for _ in range(n):
            _fork(fn, chunks, start, workers)
        yield from _gather(chunks, workers, ordered)
        finished = True
    finally:
        _stop(workers, finished)


def _fork(fn: Callable[[Any], Any], chunks: Sequence[Any], start: Callable[[], None],
          workers: list[_Worker]) -> None:
    """Start one worker and add it to ``workers``.  Ctrl-C (and SIGTERM, SIGHUP, which a
    build turns into an exception) waits until it is there: an interrupt between the fork
    and the append would leave a worker nobody stops or reaps."""
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGHUP})
    try:
        task_r, task_w = os.pipe()
        result_r, result_w = os.pipe()
        _LIVE.update((task_w, result_r))
        try:
            pid = os.fork()
        except OSError:
            _LIVE.difference_update((task_w, result_r))
            for fd in (task_r, task_w, result_r, result_w):
                os.close(fd)
            raise
        if pid == 0:
            _work(fn, chunks, start, task_r, result_w, mask)
        os.close(task_r)
        os.close(result_w)
        workers.append(_Worker(pid, task_w, result_r))
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _work(fn: Callable[[Any], Any], chunks: Sequence[Any], start: Callable[[], None], tasks: int,
          results: int, mask: set[int | signal.Signals]) -> NoReturn:
    """The worker: serve, and leave without unwinding the caller's stack."""
    code = 1
    try:
        # Ctrl-C is the parent's to handle (it stops every worker).  Every pool's ends
        # of its pipes, this worker's included, were closed at the fork (_close_live).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        start()
        _serve(fn, chunks, tasks, results)
        code = 0
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def _serve(fn: Callable[[Any], Any], chunks: Sequence[Any], tasks: int, results: int) -> None:
    """The worker's loop: a position in, ``fn`` of its chunk out, until the parent closes ``tasks``."""
    while True:
        head = _read(tasks, _POSITION.size)
        if len(head) < _POSITION.size:
            return
        (i,) = _POSITION.unpack(head)
        if i == _END:
            return
        try:
            done: tuple[bool, object] = (True, fn(chunks[i]))
        except Exception as e:  # noqa: BLE001 - raised again in the parent
            done = (False, e)
        try:
            data = pickle.dumps(done, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as e:  # noqa: BLE001 - what does not pickle travels as its text
            what = done[1] if not done[0] else e
            data = pickle.dumps((False, OSError(f"{type(what).__name__}: {what}")))
        _write(results, _LENGTH.pack(len(data)))
        _write(results, data)


def _gather(chunks: Sequence[Any], workers: list[_Worker], ordered: bool) -> Iterator[Any]:
    by_fd = {w.results: w for w in workers}
    sent = 0
    for _ in range(AHEAD):
        for w in workers:
            sent = _send(w, sent, len(chunks))
    ready = select.poll()  # poll, not select: a process may hold over 1,024 descriptors
    for fd in by_fd:
        ready.register(fd, select.POLLIN)
    waiting: dict[int, Any] = {}  # ordered: results that came before an earlier chunk's
    expect = 0
    while any(w.held for w in workers):
        for fd, _event in ready.poll():
            w = by_fd[fd]
            data = _message(w)
            i = w.held.pop(0)
            # Its next position first: the worker goes on while this process unpickles.
            sent = _send(w, sent, len(chunks))
            if not w.held:
                ready.unregister(fd)
            ok, value = pickle.loads(data)  # noqa: S301 - our own worker's bytes, over our own pipe
            if not ok:
                raise value
            if not ordered:
                yield value
                continue
            waiting[i] = value
            while expect in waiting:
                yield waiting.pop(expect)
                expect += 1


def _send(w: _Worker, sent: int, total: int) -> int:
    """Give ``w`` the next position if one is left (else close its pipe: it ends when idle)."""
    if sent < total:
        try:
            _write(w.tasks, _POSITION.pack(sent))
        except BrokenPipeError:
            raise _lost() from None
        w.held.append(sent)
        return sent + 1
    w.close_tasks(end=True)
    return sent


def _message(w: _Worker) -> bytes:
    head = _read(w.results, _LENGTH.size)
    data = _read(w.results, _LENGTH.unpack(head)[0]) if len(head) == _LENGTH.size else b""
    if len(head) < _LENGTH.size or len(data) < _LENGTH.unpack(head)[0]:
        raise _lost()
    return data


def _lost() -> ExternalError:
    return ExternalError("a worker process ended without its result (killed, or out of memory?)")


def _read(fd: int, size: int) -> bytes:
    """``size`` bytes from ``fd``, fewer only at its end."""
    parts: list[bytes] = []
    left = size
    while left:
        part = os.read(fd, min(left, 1 << 20))
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _stop(workers: list[_Worker], finished: bool) -> None:
    """Close every pipe and reap every worker; workers still at work (an error, a consumer that
    stopped early, Ctrl-C) are killed first."""
    for w in workers:
        if not finished:
            with contextlib.suppress(OSError):
                os.kill(w.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            w.close_tasks(end=finished)
        with contextlib.suppress(OSError):
            _LIVE.discard(w.results)
            os.close(w.results)
    for w in workers:
        # ECHILD: a host that ignores SIGCHLD has its children reaped for it.
        with contextlib.suppress(ChildProcessError):
            os.waitpid(w.pid, 0)
