"""The rest of an in-place build's checks on the second core while this process imports the compiler.

A ``cfgc build`` that finds one changed service file spent about a third of its
wall time importing the compiler's modules (YAML, JSON Schema, cfgc's compile
stages: about 0.1 s) *after* its checks (a stat of every repo and bundle file,
the manifest hashed, git: about 0.09 s) had found that one target must be
compiled.  With a :class:`Handoff`, the first changed layer file the checks
meet forks the process: the child finishes the checks and sends its plan back;
this process stops checking and imports the modules meanwhile, so the two
costs overlap on two cores.  A build that finds nothing changed never forks.

Soundness does not depend on the child: it runs the very same check code on
the same inputs (fork copies the loaded state), and its answer comes back over
a pipe only this process and the child hold (pickle is safe there: nobody else
can write to it).  Anything unusual (the child failing or dying, an answer that
does not load) and this process runs the checks itself from the start, as
before.  The child never returns into the caller's code: it exits (without
atexit handlers or flushing buffers it shares) as soon as its answer is sent,
inside the block that owns the resources it inherited (git processes, the lock).

Only a cold process with two cores forks, and only while the 1-minute load
average is below the number of cores (on a busy machine the child only adds
work): when the modules are already imported (a test run, a program using
:mod:`cfgc.api`, which may have threads) there is nothing to overlap.
"""

from __future__ import annotations

import importlib
import os
import pickle
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

# What compiling any one target imports; a module left out only costs speed (the
# compile imports it when it needs it).  Not Jinja2: only a target with templates
# needs it, and one without must not pay for it (tests/unit/bundle/test_incremental_light.py).
COMPILE_MODULES = (
    "cfgc.base.canonical",
    "cfgc.repo.hierarchy",
    "cfgc.compile.compiler",
    "cfgc.bundle.layout",
    "cfgc.bundle.pipeline",
    "jsonschema_rs",
    "cfgc.secrets.keysources.age",
)
# An answer bigger than this is not the child's (the manifest of 1,000,000 targets is about 250 MB).
MAX_ANSWER_BYTES = 2 << 30


class _Forked(BaseException):
    """Unwinds this process's checks at the fork (a BaseException: no ``except Exception`` stops it)."""


class Handoff:
    """Forks the checks at :meth:`early` (see the module docstring); :meth:`run` runs them."""

    def __init__(self, jobs: int | None, modules: Sequence[str] = COMPILE_MODULES) -> None:
        self.modules = modules
        self.enabled = _worth_it(modules, jobs)
        self.forked = False  # this process handed the checks to a child (and got its answer)
        self._child = False
        self._pid = 0
        self._fd = -1

    def early(self) -> None:
        """The compiler will be needed: fork here, once.  Only the parent leaves (by :class:`_Forked`)."""
        if not self.enabled or self._pid or self._child:
            return
        try:
            r, w = os.pipe()
        except OSError:
            return
        try:
            pid = os.fork()
        except OSError:
            os.close(r)
            os.close(w)
            return
        if pid == 0:  # pragma: no cover - the child goes on checking; its answer is what the tests check
            os.close(r)
            self._child, self._fd = True, w
            return
        os.close(w)
        self._pid, self._fd = pid, r
        raise _Forked

    def run(self, check: Callable[[Callable[[], None]], T]) -> T:
        """``check(early)``: computed here, or after the fork by the child (imports done here meanwhile)."""
        try:
            result = check(self.early)
        except _Forked:
            answer = self._parent()
            if answer is not None:
                self.forked = True
                return answer[0]  # type: ignore[no-any-return]
            return check(lambda: None)  # the child failed: check it all here
        except BaseException:
            if self._child:  # pragma: no cover - the fork
                os._exit(1)  # the parent checks again itself and reports the error
            raise
        if self._child:  # pragma: no cover - the fork
            _send(self._fd, result)
        return result

    def _parent(self) -> tuple[Any] | None:
        reaped = False
        try:
            for name in self.modules:
                importlib.import_module(name)
            chunks = _read(self._fd)
            if chunks is None:
                return None  # not an answer the child could have sent: killed below, checked here
            answer, reaped = _finish(chunks, self._pid), True
            return answer
        finally:
            os.close(self._fd)
            if not reaped:  # an import failed or was interrupted: the child's answer is not wanted
                _kill(self._pid)


def _worth_it(modules: Sequence[str], jobs: int | None) -> bool:
    if not hasattr(os, "fork") or all(m in sys.modules for m in modules) or _threaded():
        return False
    from cfgc.base.parallel import cores

    n = jobs or cores()
    return n > 1 and not _busy(n)


def _threaded() -> bool:
    """Whether other threads run: a fork copies none of them, and a lock one holds (an import,
    logging) would stay locked in the child forever (a program using :mod:`cfgc.api` may have
    threads before its first compile has imported the modules)."""
    threading = sys.modules.get("threading")
    return threading is not None and threading.active_count() > 1


def _busy(cores: int) -> bool:
    """Whether the cores are already taken (1-minute load average): the child would only add work.

    Measured with the machine loaded (load 8-9 on 2 cores), the fork made the
    one-service rebuild 1.11x slower in wall time; idle, it saves the checks' time.
    """
    try:
        return os.getloadavg()[0] >= cores
    except (OSError, AttributeError):
        return False


def _send(w: int, result: Any) -> None:  # pragma: no cover - runs in the fork
    code = 1
    try:
        view = memoryview(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
        while view:
            view = view[os.write(w, view) :]
        code = 0
    except BaseException:  # noqa: BLE001 - any failure: the parent checks again itself
        pass
    finally:
        os._exit(code)  # no atexit handlers, no flushing of buffers the parent owns


def _read(r: int, limit: int | None = None) -> list[bytes] | None:
    """All the child writes until it exits; None past ``limit`` (default :data:`MAX_ANSWER_BYTES`)."""
    limit = MAX_ANSWER_BYTES if limit is None else limit
    chunks: list[bytes] = []
    size = 0
    while data := os.read(r, 1 << 20):
        size += len(data)
        if size > limit:
            return None
        chunks.append(data)
    return chunks


def _finish(chunks: list[bytes], pid: int) -> tuple[Any] | None:
    """Reap the child; its answer if it exited cleanly after writing it whole, else None."""
    _, status = os.waitpid(pid, 0)
    if status != 0 or not chunks:
        return None
    try:
        return (pickle.loads(b"".join(chunks)),)  # noqa: S301 - our own fork, over a private pipe
    except Exception:  # noqa: BLE001 - a torn answer: the caller checks again itself
        return None


def _kill(pid: int) -> None:
    import signal

    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except OSError:
        pass
