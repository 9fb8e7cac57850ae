"""Exclusive use of a bundle output directory, and cleanup after dead builds.

Every build into ``OUT`` holds ``flock`` on ``.OUT.lock`` beside it from
before it stages until after the swap, so builds into one ``OUT`` run one
after another (the kernel drops the lock of a killed process).  Holding it,
a build removes what dead builds left beside ``OUT``: staging directories
``.OUT.tmp-<pid>-*`` and replaced bundles ``.OUT.old-<pid>`` whose process is
gone, and ``.OUT.tmp-*`` without a pid (left by older cfgc) that are
older than :data:`STALE_AFTER_S`.  Leftovers named with this process's own
pid are stale too: holding the lock, no build of this process uses one (in a
container every run may get the same pid, and a killed run's folder would
otherwise stay for good).  Only directories (never links) owned by this user are
removed.

An interrupt cannot leave a half-made folder beside ``OUT``: while the lock is
held, SIGTERM and SIGHUP become :class:`Terminated` (an exception, so every
cleanup runs, then the process dies of the signal as it would have), and
:func:`deferred` holds SIGINT, SIGTERM and SIGHUP back over the steps that must
not stop half-way (making and removing a staging folder, the two renames of a
swap).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import signal
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from cfgc.base.errors import ExternalError
from cfgc.base.interrupts import deferred

# How long a build waits for another build into the same --out to finish.
LOCK_TIMEOUT_S = 600.0
# Leftovers that carry no pid are removed once they are this old.
STALE_AFTER_S = 3600.0


@contextlib.contextmanager
def exclusive(out: Path, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold the lock of the output directory ``out`` for the block; clean stale leftovers first."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    lock = out.parent / f".{out.name}.lock"
    with terminable():
        fd = _acquire(lock, timeout, out)
        try:
            from cfgc.bundle.journal import recover

            recover(out)  # an in-place update a crash interrupted is finished first
            clean_stale(out)
            yield
        finally:
            # Unlink before unlocking: a waiter that then gets the lock notices the
            # file is gone (inode check in _acquire) and locks a fresh one.
            with contextlib.suppress(OSError):
                os.unlink(lock)
            os.close(fd)


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived while a build held an output directory (raised so cleanups run)."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"terminated by signal {signum}")
        self.signum = signum


# Signals that end a process by default and that a build turns into Terminated.
ENDING = (signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def terminable() -> Iterator[None]:
    """SIGTERM/SIGHUP raise :class:`Terminated` in the block; the process then dies of the signal.

    Only in the main thread, and only for a signal whose handler is the default
    one (a host program's own handler is left alone).  A forked child (a worker,
    a helper) that gets the signal dies of it at once, as before.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    owner = os.getpid()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if os.getpid() != owner:  # a forked child: die of it now, as without this handler
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise Terminated(signum)

    previous = {s: signal.getsignal(s) for s in ENDING}
    mine = [s for s, h in previous.items() if h == signal.SIG_DFL]
    for s in mine:
        signal.signal(s, on_signal)
    try:
        yield
    except Terminated as e:
        for s in mine:
            signal.signal(s, previous[s])
        mine = []
        if signal.getsignal(e.signum) == signal.SIG_DFL:
            # Everything is cleaned up: end as the signal would have (exit status 128 + signum).
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {e.signum})
            os.kill(os.getpid(), e.signum)
        raise
    finally:
        for s in mine:
            signal.signal(s, previous[s])


def _acquire(lock: Path, timeout: float, out: Path) -> int:
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            if time.monotonic() >= deadline:
                raise ExternalError(
                    f"another cfgc build is still writing {out} after {timeout:.0f} s (lock {lock})"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.25)
            continue
        try:
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the holder unlinked it as we locked it: lock the new one


def clean_stale(out: Path, now: float | None = None) -> list[Path]:
    """Remove leftovers of dead builds beside ``out``; returns what was removed.

    Call only while holding :func:`exclusive` for ``out``.
    """
    now = time.time() if now is None else now
    removed = []
    for kind in ("tmp", "old"):
        for p in out.parent.glob(f".{out.name}.{kind}-*"):
            if _ours(p) and _stale(kind, p.name.split(f".{kind}-", 1)[1], p, now):
                with deferred():
                    shutil.rmtree(p, ignore_errors=True)
                removed.append(p)
    return removed


def _ours(path: Path) -> bool:
    # A link (to anywhere), a file or another user's folder was not made by a build of ours.
    try:
        st = path.lstat()
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid()


def _stale(kind: str, tag: str, path: Path, now: float) -> bool:
    # Names cfgc gives: .OUT.tmp-<pid>-<random> (staging), .OUT.old-<pid> (replaced).
    pid = tag.split("-", 1)[0] if kind == "tmp" and "-" in tag else tag if kind == "old" else ""
    if pid.isdigit():
        # Our own pid: an earlier build of this process (or of one that had this pid) is over.
        return int(pid) == os.getpid() or not alive(int(pid))
    try:
        return now - path.lstat().st_mtime > STALE_AFTER_S
    except FileNotFoundError:
        return False


def alive(pid: int) -> bool:
    """Whether a process with this id exists (zombies count as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def exchange(new: Path, out: Path) -> bool:
    """Atomically swap the directories ``new`` and ``out`` (Linux renameat2); False if unsupported."""
    if not hasattr(os, "uname") or os.uname().sysname != "Linux":
        return False
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    fn = getattr(libc, "renameat2", None)
    if fn is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(new), at_fdcwd, os.fsencode(out), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False  # a file system without exchange: the caller renames twice
    raise OSError(err, os.strerror(err), str(out))
