"""The commit journal of an in-place bundle update (see docs/build.md, "In-place rebuilds").

An in-place rebuild writes every new file of the bundle into ``.OUT.commit/``
beside ``OUT`` (same file system, same relative paths) before ``OUT`` is
touched; then it writes ``.OUT.commit/journal.json`` naming the files to move
(``manifest.json`` last) and the files to delete, and only then renames.  A
crash between two renames leaves the journal: the next build into ``OUT`` and
``cfgc verify OUT`` roll the commit forward (every file it names was complete
before the journal existed), so ``OUT`` never stays half updated.  A
``.OUT.commit/`` without a journal is an update that never started its
renames: it is removed.

Files are not fsynced, like the rest of a build (a power cut may lose a
build, never mix two: the journal is renamed into place only after its files).
Call :func:`recover` while holding the lock of ``OUT`` (:mod:`cfgc.bundle.outdir`).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from cfgc.base.bounded_read import NotRegular, read_capped
from cfgc.base.interrupts import deferred
from cfgc.base.repopath import relative_problem

JOURNAL = "journal.json"
MAX_JOURNAL_BYTES = 64 * 1024 * 1024  # a journal names at most every file of a bundle


def commit_dir(out: Path) -> Path:
    """Where an in-place update of ``out`` stages its new files."""
    return out.parent / f".{out.name}.commit"


def open_commit(out: Path) -> Path:
    """A fresh, empty commit directory for ``out`` (a leftover without journal is removed)."""
    cdir = commit_dir(out)
    recover(out)
    shutil.rmtree(cdir, ignore_errors=True)
    os.mkdir(cdir)
    return cdir


def commit(out: Path, moves: Sequence[str], deletes: Sequence[str], fail_after: int | None = None) -> None:
    """Journal, then move ``moves`` from the commit directory into ``out`` and delete ``deletes``.

    ``moves`` must end with ``manifest.json`` when it changes.  ``fail_after``
    is for tests: raise after that many renames, as a crash would stop there.
    """
    cdir = commit_dir(out)
    tmp = cdir / f".{JOURNAL}.tmp"
    tmp.write_bytes(json.dumps({"moves": list(moves), "deletes": list(deletes)}).encode())
    # From the journal's rename on the update is decided: Ctrl-C, SIGTERM and
    # SIGHUP wait until OUT is whole again (a bundle's renames, well under a second).
    with deferred():
        os.replace(tmp, cdir / JOURNAL)
        _apply(cdir, out, list(moves), list(deletes), fail_after)
        shutil.rmtree(cdir, ignore_errors=True)


def recover(out: Path) -> bool:
    """Finish (roll forward) an interrupted in-place update of ``out``; True if there was one."""
    cdir = commit_dir(out)
    if not os.path.lexists(cdir):
        return False
    if os.path.islink(cdir) or not os.path.isdir(cdir):
        os.unlink(cdir)
        return False
    doc = _read_journal(cdir / JOURNAL)
    if doc is not None:
        _apply(cdir, out, doc[0], doc[1], None)
    shutil.rmtree(cdir, ignore_errors=True)
    return doc is not None


def _read_journal(path: Path) -> tuple[list[str], list[str]] | None:
    try:
        raw = read_capped(path, MAX_JOURNAL_BYTES, follow_links=False)
        doc = json.loads(raw) if len(raw) <= MAX_JOURNAL_BYTES else None
    except (OSError, ValueError, NotRegular, RecursionError):
        return None  # no journal (renames never started) or not one cfgc wrote (a FIFO, a link...)
    moves, deletes = doc.get("moves") if isinstance(doc, dict) else None, doc.get("deletes") if isinstance(doc, dict) else None
    if not isinstance(moves, list) or not isinstance(deletes, list):
        return None
    # Only normalised paths inside OUT: a planted journal cannot move files out of it.
    if any(not isinstance(p, str) or relative_problem(p) for p in [*moves, *deletes]):
        return None
    return moves, deletes


def _apply(cdir: Path, out: Path, moves: list[str], deletes: list[str], fail_after: int | None) -> None:
    done = 0
    for rel in moves:
        src = os.path.join(cdir, rel)
        if not os.path.lexists(src):
            continue  # moved before the interruption
        dest = os.path.join(out, rel)
        try:
            os.replace(src, dest)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            os.replace(src, dest)
        done += 1
        if fail_after is not None and done >= fail_after:
            raise OSError(errno.ENOSPC, "injected failure between renames", dest)
    for rel in deletes:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(out, rel))
        _prune_empty(out, rel)


def _prune_empty(out: Path, rel: str) -> None:
    # A clean build has no empty folders: remove those a deletion emptied.
    parts = rel.split("/")[:-1]
    while parts:
        try:
            os.rmdir(os.path.join(out, *parts))
        except OSError:
            return
        parts.pop()
