"""Exclusive locks shared by every cfgc process: on a directory, or on one file."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from cfgc.base.errors import ExternalError

LOCK_SUFFIX = ".cfgc-lock"
POLL_SECONDS = 0.02  # how often a waiting process retries the lock


@contextlib.contextmanager
def locked(root: Path, mode: int = 0o777) -> Iterator[None]:
    """Hold ``root/.lock`` exclusively (flock) for the block; creates ``root``."""
    root.mkdir(parents=True, exist_ok=True, mode=mode)
    with open(root / ".lock", "a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


class LockTimeout(ExternalError):
    """Another process held a file's lock for longer than the timeout: exit 4."""


def lock_path(path: Path) -> Path:
    """The sidecar lock of ``path``: ``.<name>.cfgc-lock`` in the same directory."""
    return path.parent / f".{path.name}{LOCK_SUFFIX}"


@contextlib.contextmanager
def file_lock(path: Path, timeout: float) -> Iterator[None]:
    """Hold the sidecar lock of ``path`` exclusively for the block.

    Waits at most ``timeout`` seconds, then raises :class:`LockTimeout` naming
    the holder's pid.  The sidecar is removed on release, so a repository is
    left clean; a waiter that wins the lock of a sidecar that was removed
    meanwhile notices (the inode changed) and tries again.  A crashed holder
    leaves at most an unlocked sidecar: flock dies with its process.
    """
    lock = lock_path(path)
    deadline = time.monotonic() + timeout
    while True:
        fd = _open_lock(lock)
        try:
            if _acquire(fd, path, deadline, timeout):
                break
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # the sidecar was replaced: lock the new one
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        # Unlink while still holding the lock: waiters then see a new inode.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)
        os.close(fd)


def _open_lock(lock: Path) -> int:
    try:
        # O_NOFOLLOW: a planted symlink must not make cfgc create or truncate
        # a file elsewhere.
        return os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise ExternalError(f"{lock}: lock file is a symlink; remove it") from None
        raise ExternalError(f"cannot create lock file {lock}: {e.strerror}") from None


def _acquire(fd: int, path: Path, deadline: float, timeout: float) -> bool:
    """Lock ``fd``; False when the sidecar it names is no longer in place."""
    lock = lock_path(path)
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise LockTimeout(
                    f"{path}: file is being changed by another cfgc process "
                    f"(pid {_holder(fd)}); gave up after waiting {timeout:g} s"
                ) from None
            time.sleep(POLL_SECONDS)
    try:
        return os.stat(lock, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return "unknown"
    return text if text.isdigit() else "unknown"

