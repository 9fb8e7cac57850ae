"""Reading a whole file within :data:`cfgc.base.limits.MAX_FILE_BYTES`.

The size comes from ``fstat`` of the descriptor that is read (no separate
``stat``, so no race between the check and the read), and the read itself
stops one byte past the bound: a file that grows after the ``fstat`` is never
read past it.  Only regular files are read: a FIFO would hang the reader, a
device (``/dev/zero``) would never end; they are opened with ``O_NONBLOCK`` so
that even the open of a FIFO does not wait for a writer.

A repo's files are read through :class:`cfgc.base.repopath.Tree`, which adds
the rule that no link is followed; :func:`read_file` is for paths a user names
(keys, SOPS files, ``.sops.yaml``) and a bundle's own files, links followed.
"""

from __future__ import annotations

import os
import stat

from cfgc.base import limits
from cfgc.base.errors import InputError, Location

__all__ = ["NOT_REGULAR", "FileTooLarge", "NotRegular", "read_file", "read_open", "too_large"]

NOT_REGULAR = "is not a regular file; cfgc reads only regular files"
_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC


class FileTooLarge(InputError):
    """A file over :data:`cfgc.base.limits.MAX_FILE_BYTES`: exit 1."""


class NotRegular(InputError):
    """A FIFO, a device, a socket or a folder where a file is read: exit 1."""


def too_large(size: int, rel: str, grew: bool = False) -> FileTooLarge:
    """The error for a file over the limit (exit 1), naming ``rel``."""
    what = f"grew past {size} bytes while read" if grew else f"is {size} bytes"
    return FileTooLarge(f"file {what}, over the {limits.MAX_FILE_BYTES}-byte limit for one file cfgc reads",
                      Location(rel))


def read_open(fd: int, st: os.stat_result, rel: str) -> bytes:
    """All bytes of the open regular file ``fd`` whose ``fstat`` is ``st``; InputError
    naming ``rel`` when it is, or grows while read to be, over the limit."""
    bound = limits.MAX_FILE_BYTES
    size = st.st_size
    if size > bound:
        raise too_large(size, rel)
    # One byte more than fstat saw, to see the end in one call for a file that did not grow.
    chunk = os.read(fd, size + 1)
    if len(chunk) == size:
        # All fstat saw, in one call: a short read of a regular file is its end,
        # so no second read to see it (a syscall per file of every build).
        return chunk
    chunks = [chunk]
    total = len(chunk)
    while chunk:
        if total > bound:
            raise too_large(bound, rel, grew=True)
        chunk = os.read(fd, min(1 << 20, bound + 1 - total))
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def read_file(path: str | os.PathLike[str], rel: str | None = None) -> bytes:
    """The bytes of the regular file at ``path`` (links followed: for paths a user names),
    within the limit; errors name ``rel`` (default: ``path``).  OSError from the open
    is left to the caller, which knows what the file is for."""
    name = rel if rel is not None else os.fspath(path)
    fd = os.open(path, _FLAGS)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegular(NOT_REGULAR, Location(name))
        return read_open(fd, st, name)
    finally:
        os.close(fd)
