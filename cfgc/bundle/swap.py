"""Putting a finished bundle directory in place of the previous one, and removing the old one.

The new directory is exchanged with ``out`` in one atomic rename where the file
system can (a reader of ``out`` never finds it missing), else ``out`` is moved
aside first; the replaced directory is removed last, by a detached process when
it is large.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = ["BACKGROUND_DELETE_MIN", "discard", "swap_into"]


def swap_into(new: Path, out: Path) -> None:
    """Put the directory ``new`` at ``out``; an existing ``out`` is moved aside first and removed last.

    Where the file system can, the two are exchanged in one atomic rename, so a
    reader of ``out`` never finds it missing.
    """
    from cfgc.base.interrupts import deferred
    from cfgc.bundle.outdir import exchange

    if out.is_dir() and not out.is_symlink() and exchange(new, out):
        discard(new)  # now holds the previous bundle
        return
    old = None
    swapped = False
    try:
        # Ctrl-C or SIGTERM between the two renames would leave no OUT at all: held back
        # until both are done (then raised as the block ends, and the old bundle still goes).
        with deferred():
            if out.exists():
                old = out.parent / f".{out.name}.old-{os.getpid()}"
                os.rename(out, old)
            try:
                os.rename(new, out)
            except BaseException:
                if old is not None:
                    os.rename(old, out)
                raise
            swapped = True
    finally:
        if swapped and old is not None:
            discard(old)  # not while signals are held: a background rm would inherit the mask


# A replaced bundle of thousands of targets takes a noticeable part of a warm
# build to delete; past this many entries it is deleted by a detached process
# after the swap, and leftovers of an interrupted deletion go with the next one.
BACKGROUND_DELETE_MIN = 2000


def discard(old: Path) -> None:
    """Remove a replaced directory (in the background when it is large)."""
    from cfgc.base.interrupts import deferred
    from cfgc.bundle.outdir import alive

    # Replaced bundles of dead processes (a deletion that was interrupted) go too.
    for stale in old.parent.glob(f".{old.name.split('.old-')[0].lstrip('.')}.old-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if stale != old and pid.isdigit() and not alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    if os.name == "posix" and _count(old) >= BACKGROUND_DELETE_MIN and shutil.which("rm"):
        import subprocess

        subprocess.Popen(["rm", "-rf", "--", str(old)], start_new_session=True,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return
    with deferred():  # an interrupt half-way would leave part of it beside OUT
        shutil.rmtree(old, ignore_errors=True)


def _count(root: Path) -> int:
    n = 0
    for _dirpath, _dirs, files in os.walk(root):
        n += len(files)
        if n >= BACKGROUND_DELETE_MIN:
            break
    return n

