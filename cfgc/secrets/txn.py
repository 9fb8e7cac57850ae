"""One writer at a time per SOPS file, and no write over a change we did not read.

Every cfgc command that rewrites a SOPS file (``set``, ``edit``, ``updatekeys``,
``rotate``, ``encrypt --in-place``) reads, changes and writes it while holding
the file's sidecar lock (:func:`cfgc.base.fslock.file_lock`), and checks just before
the atomic rename that the bytes on disk are still the ones it read.  So two
concurrent cfgc writers are serialised (both changes are kept), and a change
made meanwhile by a writer that ignores the lock (the sops binary, a git
checkout) makes cfgc refuse instead of silently overwriting it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfgc.base.bounded_read import read_file
from cfgc.base.errors import ExternalError, InputError, UsageError
from cfgc.base.fslock import file_lock
from cfgc.secrets import fileio

LOCK_TIMEOUT_ENV = "CFGC_SECRETS_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 30.0  # seconds; a set/rotate of one file takes milliseconds (KMS: ~1 s)
MAX_LOCK_TIMEOUT = 3600.0

PathLike = str | os.PathLike[str]


class ConcurrentChange(ExternalError):
    """The file changed on disk after cfgc read it: nothing was written (exit 4)."""


def lock_timeout() -> float:
    """Seconds to wait for another process's lock: ``$CFGC_SECRETS_LOCK_TIMEOUT`` or 30."""
    raw = os.environ.get(LOCK_TIMEOUT_ENV)
    if raw is None or raw == "":
        return DEFAULT_LOCK_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= MAX_LOCK_TIMEOUT:
        raise UsageError(f"{LOCK_TIMEOUT_ENV} must be a number of seconds from 0 to {MAX_LOCK_TIMEOUT:g}")
    return value


@contextlib.contextmanager
def locked(path: PathLike) -> Iterator[None]:
    """Hold ``path``'s sidecar lock for the block (waits :func:`lock_timeout` seconds).

    A symbolic link is refused before anything else (see :func:`fileio.refuse_symlink`).
    """
    fileio.refuse_symlink(path)
    with file_lock(Path(path), lock_timeout()):
        yield


@dataclass(frozen=True)
class Snapshot:
    """A file's bytes as read, their SHA-256, and the parsed document."""

    digest: str
    doc: dict[str, Any]


def digest_of(path: PathLike) -> str | None:
    """SHA-256 of the file's bytes, None when it does not exist."""
    try:
        return hashlib.sha256(read_file(path)).hexdigest()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise ExternalError(f"cannot read {path}: {e.strerror}") from None


def read(path: PathLike, fmt: str | None = None) -> Snapshot:
    """Read and parse ``path`` once, remembering exactly which bytes were seen."""
    p = Path(path)
    try:
        raw = read_file(p)
    except OSError as e:
        raise InputError(f"cannot read {p}: {e.strerror}") from None
    doc = fileio.loads(raw, fileio.format_for(p, fmt), str(p))
    return Snapshot(hashlib.sha256(raw).hexdigest(), doc)


def write(path: PathLike, doc: object, fmt: str | None, expect: str | None, why: str = "") -> None:
    """Atomically write ``doc`` if the file's digest is still ``expect``.

    ``expect`` None means the file must not exist (a file being created).  Call
    with the lock held.
    """
    now = digest_of(path)
    if now != expect:
        what = "was created" if expect is None else ("was removed" if now is None else "changed")
        raise ConcurrentChange(
            f"{path}: {what} by another process since cfgc read it; nothing was written"
            + (f" ({why})" if why else "")
        )
    fileio.write(path, doc, fmt)
