"""Atomic writes of a runtime's private state (cache entries, serials)."""

from __future__ import annotations

import os
from pathlib import Path

from cfgc.base.interrupts import temp_file


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, fsynced, mode 0600, its folder 0700.

    A crash leaves the old file or the new one, never a torn one: runtimes
    read these files at start and must not lose a recorded serial.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Removed on any failure, an interrupt too (held back until the block is entered).
    with temp_file(path.parent, f".{path.name}.tmp-") as (f, tmp):
        with f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
