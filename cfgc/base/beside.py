"""Work done in a forked child while this process goes on with its own.

After the last worker of a build returns, a 2-core machine has one core idle
while the parent writes the manifest and swaps the bundle in.  :class:`Beside`
runs an independent piece of that tail (the build cache's index, the in-place
state's layer lists) in a child forked at that moment, so both cores work;
the child inherits everything it needs by fork and sends back only its result,
pickled through a pipe.  Without fork, or when it does not pay, the work runs
in this process at once, so callers see one behaviour.

The child never returns into the caller's stack: it ends with ``os._exit``
whatever happens, so no ``finally`` or ``atexit`` of the parent (removing a
staging directory, releasing a lock) runs twice.  An exception in the child
is re-raised by :meth:`Beside.result` in the parent (as ``OSError`` when it
cannot travel); a child that ended without a result (killed, out of memory)
or a wait cut short (Ctrl-C) gives :class:`HelperLost`, which a caller whose
own work is done may take as "no result".
"""

from __future__ import annotations

import contextlib
import os
import pickle
from collections.abc import Callable
from typing import Generic, TypeVar

R = TypeVar("R")


class HelperLost(OSError):
    """The child gave no result: it was killed or ran out of memory, or the wait for it was interrupted."""


class Beside(Generic[R]):
    """``fn()`` computed beside this process (in a forked child when ``fork``), read with :meth:`result`."""

    def __init__(self, fn: Callable[[], R], fork: bool) -> None:
        self._pid = -1
        self._fd = -1
        self._done: tuple[bool, object] | None = None
        if fork:
            self._start(fn)
        else:
            self._done = _outcome(fn)

    def _start(self, fn: Callable[[], R]) -> None:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: compute, send, and leave without unwinding the parent's stack
            try:
                os.close(r)
                _send(w, _outcome(fn))
            finally:
                os._exit(0)
        os.close(w)
        self._pid, self._fd = pid, r

    def result(self) -> R:
        """The value of ``fn()`` (waiting for the child), or the exception it raised."""
        if self._done is None:
            self._done = self._collect()
        ok, value = self._done
        if not ok:
            assert isinstance(value, BaseException)
            raise value
        return value  # type: ignore[return-value]

    def wait(self) -> None:
        """Wait for the child, whatever it computed (a caller that stops early still lets it finish)."""
        if self._done is None:
            self._done = self._collect()

    def _collect(self) -> tuple[bool, object]:
        # Taken out of self first: a second call (a caller's finally after Ctrl-C)
        # must never read or close the descriptor again, which may by then be another file's.
        fd, pid = self._fd, self._pid
        self._fd = self._pid = -1
        chunks = []
        try:
            while True:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
        except BaseException:
            self._done = (False, HelperLost("the wait for a build helper process was interrupted"))
            raise
        finally:
            os.close(fd)
            # ECHILD: a host that ignores SIGCHLD has its children reaped for it.
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        try:
            done = pickle.loads(b"".join(chunks))  # noqa: S301 - our own child's bytes, over our own pipe
        except Exception:  # noqa: BLE001 - a child killed half-way sent a part or nothing
            return False, HelperLost("a build helper process ended without its result")
        assert isinstance(done, tuple)
        return done


def _outcome(fn: Callable[[], object]) -> tuple[bool, object]:
    try:
        return True, fn()
    except Exception as e:  # noqa: BLE001 - re-raised where the result is asked for
        return False, e


def _send(fd: int, done: tuple[bool, object]) -> None:
    try:
        data = pickle.dumps(done, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as e:  # noqa: BLE001 - what does not pickle travels as its text
        what = done[1] if not done[0] else e
        data = pickle.dumps((False, OSError(f"{type(what).__name__}: {what}")))
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.close(fd)
