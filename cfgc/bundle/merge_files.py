"""Place the verified files of bundle parts into the merge's staging directory.

A file is hard-linked rather than copied when that is as safe as a copy:
the part file is a regular file on the staging directory's filesystem, owned
by the user running the merge, not writable by group or others, and has no
other link.  The link is checked to be the inode that was opened, the inode
is made read-only (0o444, the mode of cache-linked bundle files), and only
then is it read and its digest compared with ``part.json``.  After that the
only writers left are the merging user and root (through a descriptor opened
before the chmod), who can rewrite ``--out`` directly anyway; a file of
another owner, or one a group could write, is copied, so nobody else can
change a bundle file after its digest was checked.  See docs/sharding.md.

At 1M targets the copy is one new file with its data per target; the link
is one directory entry and no data write.
"""

from __future__ import annotations

import functools
import os
import stat
from pathlib import Path

from cfgc.base.canonical import sha256_digest
from cfgc.base.repopath import inside, relative_problem
from cfgc.bundle.layout import write_file

# The mode of a linked file: the part's copy becomes read-only too (same inode).
LINKED_MODE = 0o444


def place(root: str, rel: str, digest: str, size: int, staging: str, staging_dev: int,
          problems: list[str], write: bool) -> bool:
    """Verify ``root/rel`` against (digest, size); if ``write``, link or copy it into ``staging``.

    Appends what is wrong to ``problems``; returns True when the file was linked.
    """
    src = os.path.join(root, rel)
    try:
        fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        problems.append(f"{root}/{rel}: listed in part.json but missing")
        return False
    except OSError as e:
        problems.append(f"{root}/{rel}: cannot be read ({e.strerror})")
        return False
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            problems.append(f"{root}/{rel}: not a regular file")
            return False
        if st.st_size != size:
            problems.append(f"{root}/{rel}: size {st.st_size}, part.json says {size}")
            return False
        linked = write and _linkable(st, staging_dev) and _link(src, fd, st, staging, rel)
        data = _read_all(fd, size)
        if len(data) != size:
            problems.append(f"{root}/{rel}: size changed while reading")
        elif sha256_digest(data) != digest:
            problems.append(f"{root}/{rel}: digest {sha256_digest(data)[:19]}…, part.json says {digest[:19]}…")
        elif write and not linked:
            write_file(Path(staging), rel, data)
        return linked
    finally:
        os.close(fd)


def _linkable(st: os.stat_result, staging_dev: int) -> bool:
    return (st.st_dev == staging_dev and st.st_uid == os.geteuid() and st.st_nlink == 1
            and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


def _link(src: str, fd: int, st: os.stat_result, staging: str, rel: str) -> bool:
    """Link ``src`` into staging if it is still the inode ``fd`` holds; make it read-only."""
    dest = os.path.join(staging, rel)
    # The checks write_file makes before it writes (part_doc has refused such paths already).
    if relative_problem(rel) or not _inside(staging, os.path.dirname(dest)):
        return False
    try:
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        os.link(src, dest, follow_symlinks=False)
    except OSError:  # another filesystem after all, links not allowed: copy instead
        return False
    lst = os.lstat(dest)
    os.fchmod(fd, LINKED_MODE)
    after = os.fstat(fd)
    # The path may have been swapped between open and link, or a third link
    # made meanwhile: then the linked inode is not (only) the one checked.
    if (lst.st_dev, lst.st_ino) != (st.st_dev, st.st_ino) or after.st_nlink != 2:
        os.unlink(dest)
        return False
    return True


def _read_all(fd: int, size: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    with os.fdopen(os.dup(fd), "rb") as f:
        return f.read(size + 1)


@functools.lru_cache(maxsize=4096)
def _inside(staging: str, folder: str) -> bool:
    # One realpath per folder, not per file: the merge made every folder of staging.
    return inside(staging, folder)
