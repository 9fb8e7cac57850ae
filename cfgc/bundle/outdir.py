"""Exclusive use of a bundle output directory, and cleanup after dead builds.

Every build into ``OUT`` holds ``flock`` on ``.OUT.lock`` beside it from
before it stages until after the swap, so builds into one ``OUT`` run one
after another (the kernel drops the lock of a killed process).  Holding it,
a build removes what dead builds left beside ``OUT``: staging directories
``.OUT.tmp-<pid>-*`` and replaced bundles ``.OUT.old-<pid>`` whose process is
gone, and ``.OUT.tmp-*`` without a pid (older cfgc, ``cfgc pull``) that are
older than :data:`STALE_AFTER_S`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from cfgc.base.errors import ExternalError

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
            if _stale(kind, p.name.split(f".{kind}-", 1)[1], p, now):
                shutil.rmtree(p, ignore_errors=True)
                removed.append(p)
    return removed


def _stale(kind: str, tag: str, path: Path, now: float) -> bool:
    # Names cfgc gives: .OUT.tmp-<pid>-<random> (staging), .OUT.old-<pid> (replaced).
    pid = tag.split("-", 1)[0] if kind == "tmp" and "-" in tag else tag if kind == "old" else ""
    if pid.isdigit():
        return int(pid) != os.getpid() and not alive(int(pid))
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
