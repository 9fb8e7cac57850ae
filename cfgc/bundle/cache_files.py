"""Low-level file handling of the build cache: reads that never follow a symlink
or block on a FIFO (the shared bounded reader, :mod:`cfgc.base.bounded_read`,
each file held to the size its caller expects), verifying a blob and placing it
into a bundle, writing blobs and the index, pruning blobs.  The policy (keys,
entries, bounds) is :mod:`cfgc.bundle.cache`'s."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

from cfgc.base.bounded_read import NotRegular, open_regular, read_capped_open
from cfgc.base.interrupts import temp_file
from cfgc.bundle.cache_index import CacheCorrupt

if TYPE_CHECKING:
    from cfgc.bundle.folder_writer import FolderWriter

BLOBS_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def open_limited(path: str | Path, limit: int) -> tuple[int, os.stat_result]:
    """The shared bounded reader's open (:func:`cfgc.base.bounded_read.open_regular`: no
    symlink, no blocking on a FIFO, regular files only) of a cache file of fewer than
    ``limit`` bytes; the caller closes the descriptor.  Raises OSError or CacheCorrupt."""
    try:
        fd, st = open_regular(path, follow_links=False)
    except NotRegular:
        raise CacheCorrupt("is not a regular file") from None
    if st.st_size >= limit:
        os.close(fd)
        raise CacheCorrupt(f"has {st.st_size} bytes, more than expected")
    return fd, st


def read_limited(path: str | Path, limit: int) -> bytes:
    """At most ``limit`` bytes of the cache file ``path`` (fewer than ``limit`` when it did not
    grow while read: a caller that knows the size compares); raises OSError or CacheCorrupt."""
    fd, st = open_limited(path, limit)
    try:
        return read_capped_open(fd, st, limit - 1)
    finally:
        os.close(fd)


def read_index(path: Path, limit: int) -> bytes | None:
    """The index file's bytes (fewer than ``limit``), None when there is none;
    raises OSError or CacheCorrupt."""
    try:
        return read_limited(path, limit)
    except FileNotFoundError:
        return None


def use_blob(blobs: str, hexdigest: str, size: int, staging: Path | None, rel: str) -> bool:
    """Read the blob ``hexdigest``, check its size and digest, and place it at
    ``staging/rel``; False when it is missing (pruned meanwhile by another build:
    just compile).  Raises OSError (ELOOP: a symlink) or CacheCorrupt."""
    try:
        fd, st = open_regular(f"{blobs}/{hexdigest}", follow_links=False)
    except FileNotFoundError:
        return False
    except NotRegular:
        raise CacheCorrupt("is not a regular file") from None
    try:
        if st.st_size != size:  # refused from its fstat: an oversized blob is never read
            raise CacheCorrupt(f"has {st.st_size} bytes, not {size}")
        data = read_capped_open(fd, st, size)
        if len(data) != size or hashlib.sha256(data).hexdigest() != hexdigest:
            raise CacheCorrupt("does not match its digest")
        if staging is not None:
            place(fd, data, staging, rel)
    finally:
        os.close(fd)
    return True


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def place(fd: int, data: bytes, staging: Path, rel: str) -> None:
    """Put the file open as ``fd`` (whose bytes are ``data``) at ``staging/rel``.

    A hard link of the very inode that was hashed (through /proc, so no path can
    be swapped in between), else a copy of ``data``.  Blobs are never edited in
    place (they are read-only and replaced whole), so a linked bundle file keeps
    its bytes.
    """
    dest = f"{staging}/{rel}"  # rel is a checked target path (no '..')
    if not dest.startswith("/"):
        dest = os.path.abspath(dest)
    src = f"/proc/self/fd/{fd}"
    try:
        # A dir fd makes os.link call linkat(AT_SYMLINK_FOLLOW): plain link()
        # would link the /proc symlink itself (and fail, across filesystems).
        root = _root_fd()
        try:
            os.link(src, dest, dst_dir_fd=root, follow_symlinks=True)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            os.link(src, dest, dst_dir_fd=root, follow_symlinks=True)
    except OSError:  # no /proc, another filesystem, links not allowed
        # imported here: layout brings the compiler's imports, needed only when a blob is placed
        from cfgc.bundle.layout import write_file

        write_file(staging, rel, data)


def link_blob(blobs: str, src: str, hexdigest: str) -> None:
    """Make the bundle file ``src`` (just written, read-only) the blob ``hexdigest``."""
    blob = f"{blobs}/{hexdigest}"
    try:
        os.link(src, blob, follow_symlinks=False)
    except FileNotFoundError:
        os.makedirs(blobs, exist_ok=True)
        os.link(src, blob, follow_symlinks=False)
    except FileExistsError:
        # Never trusted because it exists: replaced whole, so a damaged blob heals.
        tmp = f"{blobs}/.{hexdigest}.{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        os.link(src, tmp, follow_symlinks=False)
        os.replace(tmp, blob)


def open_blobs(blobs: str) -> int:
    """A descriptor of the blobs folder (created if missing), never through a link; raises OSError."""
    try:
        return os.open(blobs, BLOBS_FLAGS)
    except FileNotFoundError:
        os.makedirs(blobs, exist_ok=True)
        return os.open(blobs, BLOBS_FLAGS)


def link_blob_at(writer: FolderWriter, rel: str, blobs_fd: int, hexdigest: str) -> None:
    """:func:`link_blob` relative to open folders: ``rel``, just written by ``writer``,
    becomes the blob ``hexdigest`` in the blobs folder open as ``blobs_fd``."""
    try:
        writer.link(rel, blobs_fd, hexdigest)
    except FileExistsError:
        # Never trusted because it exists: replaced whole, so a damaged blob heals.
        tmp = f".{hexdigest}.{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp, dir_fd=blobs_fd)
        writer.link(rel, blobs_fd, tmp)
        os.replace(tmp, hexdigest, src_dir_fd=blobs_fd, dst_dir_fd=blobs_fd)


def write_blob(blobs: str, hexdigest: str, data: bytes) -> None:
    """A blob of its own (no bundle file to link, or linking failed); errors only cost speed."""
    tmp = f"{blobs}/.{hexdigest}.{os.getpid()}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
    fd = -1
    try:
        try:
            fd = os.open(tmp, flags, 0o444)
        except FileNotFoundError:
            os.makedirs(blobs, exist_ok=True)
            fd = os.open(tmp, flags, 0o444)
        write_all(fd, data)
        os.replace(tmp, f"{blobs}/{hexdigest}")
    except OSError:
        pass
    finally:
        if fd >= 0:
            os.close(fd)


def write_gitignore(root: Path) -> None:
    """``*`` in the cache directory: git never sees it, wherever it is."""
    with contextlib.suppress(FileExistsError):
        fd = os.open(root / ".gitignore", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "w") as f:
            f.write("# cfgc build cache: never committed\n*\n")


def write_index(root: Path, name: str, data: bytes) -> None:
    """Replace ``root/name`` with ``data`` atomically (and the .gitignore); raises OSError."""
    root.mkdir(parents=True, exist_ok=True)
    write_gitignore(root)
    # A full disk, a folder planted where the index goes, or an interrupt: without
    # temp_file's removal, every such build would leave a copy of the whole index behind.
    with temp_file(root, ".index.") as (f, tmp):
        with f:
            f.write(data)
        os.replace(tmp, root / name)


# Names one save lists past those it keeps: a cache folder planted with millions
# of files is cleared in steps, each save's cost bounded.
PRUNE_BATCH = 100_000


def prune_blobs(blobs: str, keep: set[str]) -> None:
    """Drop the blobs not in ``keep``, once there are more than twice as many plus 100.

    The folder is opened with ``O_NOFOLLOW`` and listed and pruned through that
    descriptor: a blobs folder swapped for a link (after the load checked it)
    is never listed, and nothing outside it is ever unlinked.  At most
    ``2 * len(keep) + 100 +`` :data:`PRUNE_BATCH` names are listed per save.
    """
    try:
        fd = os.open(blobs, BLOBS_FLAGS)
    except OSError:  # missing, not a folder, or a link (ELOOP)
        return
    try:
        with os.scandir(fd) as it:
            names = [e.name for e in islice(it, 2 * len(keep) + 100 + PRUNE_BATCH)]
        if len(names) <= 2 * len(keep) + 100:
            return
        for name in names:
            if name not in keep:
                with contextlib.suppress(OSError):
                    os.unlink(name, dir_fd=fd)
    finally:
        os.close(fd)


@functools.cache
def _root_fd() -> int:
    # dst_dir_fd is ignored for the absolute destinations given; it is only
    # there to select linkat().
    return os.open("/", os.O_RDONLY | os.O_DIRECTORY)
