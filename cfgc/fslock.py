"""An exclusive lock on a directory, shared by every process that uses it."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path


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
