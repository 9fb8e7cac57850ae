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
:func:`read_capped` is for cfgc's own state files (caches, journals, serial
state, bundle parts), each with its own smaller cap: the same open rules, and
the caller decides what an oversized or irregular file means.
"""

from __future__ import annotations

import os
import stat

from cfgc.base import limits
from cfgc.base.errors import InputError, Location

__all__ = ["NOT_REGULAR", "FileTooLarge", "NotRegular", "open_regular", "read_capped", "read_capped_open", "read_file",
           "read_open", "too_large"]

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


def open_regular(path: str | os.PathLike[str], *, follow_links: bool = True) -> tuple[int, os.stat_result]:
    """A descriptor of the regular file at ``path`` and its ``fstat``; the caller closes it.

    Opened non-blocking (a FIFO planted there is refused at once instead of
    waiting for a writer) and refused unless fstat says regular file
    (:class:`NotRegular`, the descriptor closed); ``follow_links=False`` refuses a
    symlink at the last component (ELOOP).  OSError from the open is left to the caller.
    """
    fd = os.open(path, _FLAGS | (0 if follow_links else os.O_NOFOLLOW))
    try:
        st = os.fstat(fd)
    except BaseException:
        os.close(fd)
        raise
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise NotRegular(NOT_REGULAR, Location(os.fspath(path)))
    return fd, st


def read_capped_open(fd: int, st: os.stat_result, cap: int) -> bytes:
    """At most ``cap`` + 1 bytes of the open regular file ``fd`` whose ``fstat`` is ``st``."""
    # One read for a file that did not grow (a short read of a regular file is its end).
    size = st.st_size
    chunk = os.read(fd, (size if size <= cap else cap) + 1)
    if len(chunk) == size:
        return chunk  # all fstat saw: no list, no join (every cache hit of a warm build reads here)
    chunks = [chunk]
    total = len(chunk)
    while chunk and total <= cap and total != st.st_size:
        chunk = os.read(fd, min(1 << 20, cap + 1 - total))
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def read_capped(path: str | os.PathLike[str], cap: int, *, follow_links: bool = True) -> bytes:
    """At most ``cap`` + 1 bytes of the regular file at ``path``: more than ``cap`` means too big.

    Opened as :func:`open_regular` opens it (non-blocking, regular files only,
    ``follow_links=False`` refuses a symlink).  OSError from the open or the
    read is left to the caller.
    """
    fd, st = open_regular(path, follow_links=follow_links)
    try:
        return read_capped_open(fd, st, cap)
    finally:
        os.close(fd)
