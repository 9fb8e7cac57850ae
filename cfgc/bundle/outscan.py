"""The stamps of a bundle directory's files and folders, for the in-place state (:mod:`cfgc.bundle.outrecord`).

A full build's target files are all written by the workers before the last
result comes back; the parent then writes only the manifest (and prompt and
SOPS files) at the top and renames the staging folder into ``OUT``.  A rename
of the top folder changes no stamp inside it, so the ``targets/`` subtree can
be scanned in the staging folder beside the parent's writes
(:func:`scan_targets`, in :class:`cfgc.base.beside.Beside`'s child) and
:func:`scan_out` then scans only the rest of ``OUT``.  Every stamp is judged
against the clock read just before its own ``stat`` (``outstate.out_stamp``),
so a stamp taken early is as sound as one taken late: a file changed less
than the racy window before it is left without a stamp (hashed on every check).
"""

from __future__ import annotations

import os
import stat
import time
from array import array
from pathlib import Path

from cfgc.bundle import outstate
from cfgc.bundle.outpack import ints_of, target_files

TARGETS = "targets"  # cfgc.bundle.layout.target_path's folder
Scanned = tuple[dict[str, outstate.Stamp], dict[str, int]]  # files and folders in os.walk's order
# scan_targets: the targets' files' stamps packed in the targets' order, then the rest as Scanned.
Targets = tuple["array[int]", dict[str, outstate.Stamp], dict[str, int]]


def scan_out(out: Path, now: int, targets: Scanned | None = None) -> Scanned:
    """The stamps of every file and folder in a bundle directory just written (``now``: time_ns).

    Each folder is read through its descriptor (``fstatat`` relative to it, no path
    walked per file): 0.045 against 0.061 s of ``os.walk`` and a ``stat`` by path
    for 10,000 files.  The order is ``os.walk``'s: a folder, its files, then its
    subfolders by name; a link to a folder is left out (never followed).
    ``targets`` is what :func:`scan_targets` left of the ``targets/`` subtree (the
    files that are no target's, and the folders), taken in its place.
    """
    files: dict[str, outstate.Stamp] = {}
    dirs: dict[str, int] = {}
    fd = os.open(out, _DIR_FLAGS)
    try:
        _scan(fd, "", files, dirs, now, targets)
    finally:
        os.close(fd)
    return files, dirs


def open_targets(staging: Path) -> int:
    """A descriptor of ``staging``'s ``targets/`` folder (never through a link), for :func:`scan_targets`."""
    return os.open(staging / TARGETS, _DIR_FLAGS | os.O_NOFOLLOW)


def scan_targets(folder: int, after: int, names: list[str]) -> Targets | None:
    """The stamps of the ``targets/`` folder open as ``folder`` (:func:`open_targets`; left open),
    named as in ``OUT``: the files of the targets ``names`` packed in that order (they travel
    back to the parent as one array), the other files and the folders.  None when a target's
    file is missing.  ``after`` is the time_ns of the last target's write: a file the scan finds
    inside the racy window is stat'ed again once the window has passed, so no target's stamp is
    lost to it."""
    files: dict[str, outstate.Stamp] = {}
    dirs: dict[str, int] = {}
    _scan(folder, TARGETS, files, dirs, time.time_ns(), None)
    # Scanned at once, not after waiting out the window: only the last writes (the last
    # chunks' files) are too recent, and only those files are stat'ed again.  A folder found
    # too recent keeps -1 (listed by the next in-place build): its stamp must be taken before
    # its listing, or an entry made between the two would hide behind it.
    young = [p for p, st in files.items() if st == outstate.NO_STAMP]
    if young:
        # At most the window itself: a wall clock stepped back must not make it a long sleep
        # (stamps are judged against the clock read after it, so this stays sound).
        wait = min(after + outstate.FINE_RACY_NS - time.time_ns(), outstate.FINE_RACY_NS)
        if wait > 0:
            time.sleep(wait / 1e9)
        _restat(folder, young, files, time.time_ns())
    try:
        own = ints_of([n for p in target_files(names) for n in files.pop(p)])
    except KeyError:  # the full scan finds it missing too, and no state is left
        return None
    return own, files, dirs


def _restat(folder: int, young: list[str], files: dict[str, outstate.Stamp], now: int) -> None:
    """Stat again, judged against ``now``, the files ``young`` (OUT's names under ``targets/``)
    :func:`_scan` found too recent.  Each folder is opened from ``folder`` one name at a time
    without following a link, as :func:`_scan` walked it; a file or folder that is gone or
    no longer what it was keeps its first stamp (none)."""
    by_dir: dict[str, list[str]] = {}
    for p in young:
        head, _, name = p.rpartition("/")
        by_dir.setdefault(head, []).append(name)
    out_stamp = outstate.out_stamp
    for rel, names in by_dir.items():
        try:
            fd = _open_under(folder, rel)
        except OSError:
            continue
        try:
            for name in names:
                try:
                    st = os.stat(name, dir_fd=fd, follow_symlinks=False)
                except OSError:
                    continue
                if not stat.S_ISDIR(st.st_mode):  # _scan took it for a file
                    files[f"{rel}/{name}"] = out_stamp(st, now)
        finally:
            os.close(fd)


def _open_under(folder: int, rel: str) -> int:
    """A descriptor of ``rel`` (``targets/...``) below the ``targets/`` folder ``folder``, each name
    opened without following a link."""
    fd = os.dup(folder)
    try:
        for part in rel.split("/")[1:]:
            child = os.open(part, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def _scan(
    fd: int, rel: str, files: dict[str, outstate.Stamp], dirs: dict[str, int], now: int, targets: Scanned | None
) -> None:
    dirs[rel] = outstate.dir_stamp(os.fstat(fd), now)
    sub = []
    out_stamp = outstate.out_stamp
    with os.scandir(fd) as it:
        for entry in it:
            name = entry.name
            if entry.is_dir():  # as os.walk: a link to a folder is neither walked nor a file
                if not entry.is_symlink():
                    sub.append(name)
            else:
                files[f"{rel}/{name}" if rel else name] = out_stamp(entry.stat(follow_symlinks=False), now)
    for name in sorted(sub):
        if targets is not None and not rel and name == TARGETS:
            files.update(targets[0])
            dirs.update(targets[1])
            continue
        child = os.open(name, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
        try:
            _scan(child, f"{rel}/{name}" if rel else name, files, dirs, now, None)
        finally:
            os.close(child)
