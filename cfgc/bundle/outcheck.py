"""Whether a repo and an ``OUT`` still hold what the last build saw and wrote (:mod:`cfgc.bundle.incremental`).

:func:`same_folders_in` checks the repo's file list folder by folder;
:func:`check_out` checks ``OUT`` against the manifest and the stat index
(:mod:`cfgc.bundle.outstate`).  Both answer None for "build it whole".
"""

from __future__ import annotations

import bisect
import hashlib
import os
import time
from array import array
from pathlib import Path
from stat import S_ISDIR
from typing import Any

import orjson

from cfgc.bundle import outfolders, outstate, splice
from cfgc.bundle.cache_files import read_limited
from cfgc.bundle.cache_index import CacheCorrupt
from cfgc.bundle.manifest import MANIFEST, SECTIONS
from cfgc.bundle.outpack import STAMP, ints
from cfgc.repo.sources import folder_entries

MAX_MANIFEST_BYTES = 1 << 30  # OUT's manifest.json (1,000,000 targets take about 250 MB); a bigger one is not ours


def same_folders_in(root: str, state: outstate.OutState, out: Path, racy: int) -> dict[str, str] | None:
    """The refreshed folder stamps if no repo folder's entries changed since it was listed, else None.

    A folder whose stat is unchanged holds what it held; one whose stat moved
    (a file saved by rename, cfgc's own writes when ``OUT`` is inside the repo)
    is listed again, alone, and compared with the digest of its entries.
    """
    folders = state.folders
    if not folders:
        return None
    stat = os.stat
    beside = outfolders.out_parent(out, Path(root))
    for rel, old in state.folders.items():
        try:
            st = stat(f"{root}/{rel}")
            if old and old == f"{st.st_mtime_ns}:{st.st_ctime_ns}":
                continue
            names = folder_entries(rel, root)  # after the stat: a later change shows next time
        except OSError:
            return None
        own = outfolders.own_names(out) if rel == beside else frozenset()
        if outfolders.folder_digest(names, own) != state.entries.get(rel):
            return None
        if folders is state.folders:
            folders = dict(state.folders)
        folders[rel] = outstate.folder_stamp(st, racy)
    return folders


class ManifestRead:
    """``OUT/manifest.json`` read and hashed on another thread, started before the repo's stat pass.

    The last in-place build wrote the manifest moments ago, so its stat is never
    trusted and its bytes (3 MB at 10,000 targets, about 9 ms of SHA-256 on a
    CPU without SHA extensions) are hashed every time; hashlib and ``read``
    release the GIL, so on a second core this overlaps the repo's stat pass
    instead of following it.  :meth:`result` waits for it; every check made on
    the bytes is the same as before (:func:`check_out`).
    """

    def __init__(self, out: Path) -> None:
        import threading

        self._found: tuple[bytes, str] | BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(os.path.join(out, MANIFEST),), daemon=True)
        self._thread.start()

    def _run(self, path: str) -> None:
        try:
            raw = _read(path, MAX_MANIFEST_BYTES)
            self._found = (raw, "sha256:" + hashlib.sha256(raw).hexdigest())
        except (OSError, CacheCorrupt):
            self._found = None
        except BaseException as e:  # noqa: BLE001 - raised again in the waiting thread
            self._found = e

    def result(self) -> tuple[bytes, str] | None:
        """The manifest's bytes and digest; None when it cannot be read as a regular file within bounds."""
        self._thread.join()
        if isinstance(self._found, BaseException):
            raise self._found
        return self._found


def check_out(
    out: Path, state: outstate.OutState, verify: bool, read: ManifestRead | None = None
) -> tuple[array[int], dict[str, int], dict[str, Any] | None, bytes] | None:
    """OUT's refreshed stamps if it still holds what the state says cfgc wrote, else None.

    ``read``: the manifest already being read (:class:`ManifestRead`); else it is read here.
    """
    found = (read or ManifestRead(out)).result()
    if found is None:
        return None
    raw, digest = found
    if digest != state.manifest:
        return None
    manifest: dict[str, Any] | None = None
    expected: dict[str, Any] = {}
    stamps = state.bundle_stamps
    lstat, base, now = os.lstat, str(out), time.time_ns()
    it = iter(state.bundle_stamps)
    try:
        for j, (rel, mtime, ctime, size, ino) in enumerate(zip(state.bundle, it, it, it, it, strict=True)):
            if rel == MANIFEST:
                continue
            st = lstat(f"{base}/{rel}")
            if (mtime == st.st_mtime_ns and ctime == st.st_ctime_ns and size == st.st_size and ino == st.st_ino
                    and not verify):
                continue
            entry = _spliced_entry(raw, state, rel) if manifest is None else None
            if entry is None:
                if manifest is None:
                    manifest = orjson.loads(raw)
                    expected = _by_path(manifest)
                entry = expected.get(rel)
            if entry is None or not _matches(f"{base}/{rel}", entry):
                return None
            if stamps is state.bundle_stamps:
                stamps = ints(stamps)
            stamps[STAMP * j : STAMP * (j + 1)] = ints(outstate.out_stamp(st, now))
        dirs = _same_folders(out, state, verify, now)
        if dirs is None:
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return stamps, dirs, manifest, raw


def _spliced_entry(raw: bytes, state: outstate.OutState, rel: str) -> Any:
    """A target file's manifest entry, parsed alone where the spans say (None: parse the whole manifest).

    The files the last in-place build wrote are hashed again on the next one (their
    stat was too recent to trust); at 10,000 targets parsing all of ``raw`` for their
    entries took about 30 ms of that build.  ``raw`` matched the state's digest and the
    spans are authenticated with it; :func:`splice.entry` still checks the key.
    """
    if not state.spans or not rel.startswith("targets/") or not rel.endswith(".json"):
        return None
    name = rel[len("targets/") : -len(".json")]
    i = bisect.bisect_left(state.names, name)
    if i == len(state.names) or state.names[i] != name:
        return None
    return splice.entry(raw, state.spans, i, name)


def _by_path(manifest: dict[str, Any]) -> dict[str, Any]:
    """Each file a manifest cfgc wrote lists, by bundle path (names were checked when written)."""
    found = {f"targets/{n}.json": e for n, e in manifest["targets"].items()}
    for section in SECTIONS:
        found.update((e["path"], e) for e in (manifest.get(section) or {}).values())
    return found


def _read(path: str, limit: int) -> bytes:
    """A regular file's bytes: never through a symlink, never blocking on a FIFO, at most ``limit``."""
    return read_limited(path, limit)


def _matches(path: str, entry: Any) -> bool:
    try:
        data = _read(path, int(entry["size"]) + 1)
    except CacheCorrupt:
        return False
    return bool(len(data) == entry["size"] and "sha256:" + hashlib.sha256(data).hexdigest() == entry["digest"])


def _same_folders(out: Path, state: outstate.OutState, verify: bool, now: int) -> dict[str, int] | None:
    """OUT's refreshed folder stamps if every folder holds exactly the entries cfgc wrote
    (listed when its mtime moved), else None."""
    dirs = state.dirs
    for rel, mtime in state.dirs.items():
        st = os.lstat(os.path.join(out, rel))  # before the listing: a later change shows next time
        if not S_ISDIR(st.st_mode):
            # A symlink in its place would be listed, and written through, at its
            # target: OUT's files would pass the check and the commit land outside OUT.
            return None
        if mtime >= 0 and st.st_mtime_ns == mtime and not verify:
            continue
        if set(os.listdir(os.path.join(out, rel))) != entries(state, rel):
            return None
        if dirs is state.dirs:
            dirs = dict(state.dirs)
        dirs[rel] = outstate.dir_stamp(st, now)
    return dirs


def entries(state: outstate.OutState, rel: str) -> set[str]:
    """The names cfgc wrote directly in OUT's folder ``rel`` ("" = OUT): its files and folders.

    Every in-place build moves the mtime of the folder its target file was renamed
    into, so the next one lists that folder; building every folder's entries from
    all 10,000 bundle paths took about 6 ms of it.  The target files are found by
    bisection instead: ``state.bundle`` starts with ``target_files(state.names)``
    and the names are sorted (:class:`~cfgc.bundle.outstate.OutState`); were they
    not, a name would be missed and the listing differ: a full build, never a
    false "unchanged".  The other files and the folders are few and walked.
    """
    found: set[str] = set()
    names = state.names
    if rel == "targets" or rel.startswith("targets/"):
        prefix = rel[len("targets/") :] + "/" if rel != "targets" else ""
        for i in range(bisect.bisect_left(names, prefix), len(names)):
            name = names[i]
            if not name.startswith(prefix):
                break
            rest = name[len(prefix) :]
            if "/" not in rest:
                found.add(rest + ".json")
    for p in (*state.bundle[len(names) :], *state.dirs):
        if p:
            parent, _, name = p.rpartition("/")
            if parent == rel:
                found.add(name)
    return found
