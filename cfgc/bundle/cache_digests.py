"""The build cache's file digests: a working-tree file is hashed only when its stat changed.

Digests are remembered by stat stamp, as git's index does; the stamps live in
the cache index (:mod:`cfgc.bundle.cache_index`), which :class:`cfgc.bundle.cache.BuildCache`
loads and saves.  A stamp only means something for the folder it came from, so
the remembered files are dropped when the source's root differs.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from cfgc.base.jsonvalue import JSONObject
from cfgc.base.repopath import NotFound
from cfgc.bundle.cache_index import file_entry
from cfgc.repo.inputs import unwrapped
from cfgc.repo.sources import DirSource, Source

if TYPE_CHECKING:
    from cfgc.repo.git_source import GitSource

__all__ = ["RACY_NS", "FileDigests"]

# A file changed within this long of the build's start may change again without
# its stat changing (timestamps are coarser than writes): hash it, do not memo it.
RACY_NS = 2_000_000_000


def _git_source_class() -> type[GitSource] | None:
    """GitSource, or None while its module is not loaded (then nothing is a GitSource:
    a working-tree build does not import git's reader for this one test)."""
    module = sys.modules.get("cfgc.repo.git_source")
    return None if module is None else module.GitSource


def _stamp(st: os.stat_result) -> str:
    # ctime is in it: a rewrite that restores size and mtime (os.utime) still
    # changes ctime, which no unprivileged process can set.
    return f"{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_size}:{st.st_ino}"


class FileDigests:
    """This build's content digests of repo files, and the stat stamps remembered across builds.

    ``files_root``/``files`` are the remembered stamps (as the index holds them);
    ``dirty`` says they changed; ``corrupt`` is told of an entry cfgc did not write.
    """

    def __init__(self, corrupt: Callable[[str], None]) -> None:
        self.files: JSONObject = {}
        self.files_root = ""
        self.dirty = False
        self._corrupt = corrupt
        self._root_checked = False
        self._digests: dict[str, str] = {}  # this build's file digests
        self._racy = time.time_ns() - RACY_NS
        self._found: list[tuple[str, str, str]] = []  # (path, digest, stamp) a worker hashed for its keys
        self._reporting = False  # report(): file_digest fills _found
        # A file this build keyed whose bytes, read again by a compile, differed
        # (saved during the build): no entry compiled from then on is kept.
        self.changed = False
        self.changed_paths: set[str] = set()  # which files (seen in this process)

    def memo(self, path: str) -> tuple[str, str] | None:
        """``(stat stamp, sha256 hex)`` of a working-tree file this build hashed; the stamp is
        "" when the file was too recently changed to be known by stat."""
        digest = self._digests.get(path)
        if digest is None or len(digest) != 64:
            return None
        return self._stamp_of(path, digest), digest

    def _stamp_of(self, path: str, digest: str) -> str:
        # The stat stamp remembered for ``path`` with this digest ("" for none);
        # ``digest`` is one this build computed, so equal to it means well formed.
        hit = self.files.get(path)
        if type(hit) is list and len(hit) == 2 and hit[1] == digest and type(hit[0]) is str:
            return hit[0]
        return ""

    def known(self, path: str, hexdigest: str) -> None:
        """Take ``hexdigest`` as the sha256 of the working-tree file ``path`` for this build."""
        self._digests[path] = hexdigest

    def file_digest(self, source: Source, path: str) -> str:
        """A content digest of one file, reading it only when its stat changed."""
        memo = self._digests.get(path)
        if memo is not None:
            return memo
        source = unwrapped(source)
        if isinstance(source, DirSource):
            digest = self._dir_digest(source, path)
        elif (git_source := _git_source_class()) is not None and isinstance(source, git_source):
            digest = "git:" + source.blob_sha(path)
        else:
            digest = hashlib.sha256(source.read(path)).hexdigest()
        self._digests[path] = digest
        if self._reporting:
            self._found.append((path, digest, self._stamp_of(path, digest)))
        return digest

    def report(self, source: DirSource) -> None:
        """From now on, remember what :meth:`file_digest` hashes for :meth:`hashed` (a worker
        keying its own targets; called in the parent before the fork, so the
        remembered stamps are matched to ``source``'s root once, for every worker)."""
        self._check_root(source)
        self._reporting = True

    def hashed(self) -> list[tuple[str, str, str]]:
        """``(path, sha256 hex, stat stamp or "")`` of the files hashed since the last call."""
        found, self._found = self._found, []
        return found

    def adopt(self, found: list[tuple[str, str, str]]) -> None:
        """Take in what a worker hashed (:meth:`hashed`).

        Two workers may read one shared file.  When they saw different bytes (it
        changed during the build) the file gets no digest and no stamp, so no
        in-place state is left from it (each worker's keys still name the bytes
        its own compile parsed); when they saw the same bytes under different
        stamps, only the stamp is dropped (which one is current is unknown).
        """
        for path, digest, stamp in found:
            self.dirty = True
            seen = self._digests.get(path)
            if seen is None:
                self._digests[path] = digest
                if stamp:
                    self.files[path] = [stamp, digest]
                else:
                    self.files.pop(path, None)
            elif seen != digest:
                self._digests[path] = "changed during the build"
                self.files.pop(path, None)
            elif self._stamp_of(path, digest) != stamp:
                self.files.pop(path, None)

    def watch(self, source: DirSource) -> None:
        """Check every file ``source``'s compiles read from disk against this build's digest of it
        (:attr:`changed`)."""
        source.on_disk_read = self._witness

    def _witness(self, path: str, data: bytes) -> None:
        # A compile read ``path`` from disk: a file keyed by its stat stamp, or
        # past DirSource.keep's bound.  Bytes other than those the key named
        # would be kept under that key and served when the file goes back.
        digest = self._digests.get(path)
        if digest is not None and len(digest) == 64 and hashlib.sha256(data).hexdigest() != digest:
            self.changed = True
            self.changed_paths.add(path)
            self._digests[path] = "changed during the build"
            self.files.pop(path, None)
            self.dirty = True
            if self._reporting:  # the parent's adopt() sees two digests: no in-place state
                self._found.append((path, hashlib.sha256(data).hexdigest(), ""))

    def _check_root(self, source: DirSource) -> None:
        if not self._root_checked:  # stat stamps only mean something for the files they came from
            self._root_checked = True
            self.watch(source)
            root = str(source.root.resolve())
            if root != self.files_root:
                self.files, self.files_root = {}, root

    def _dir_digest(self, source: DirSource, path: str) -> str:
        self._check_root(source)
        hit = self.files.get(path)
        if hit is not None:
            try:
                st = os.stat(os.path.join(source.root, path))
            except OSError:
                return "missing"
            entry = file_entry(hit)
            if entry is None:
                self._corrupt(f"malformed file entry for {path}")
            elif entry[0] == _stamp(st):
                return entry[1]
        # Not known by stat: read it (the fstat of the read gives the stamp, no
        # separate stat), and keep the bytes for the compile of its targets,
        # which then reads exactly what the key names, without a second read.
        try:
            data, st = source.read_stat(path)
        except NotFound:
            return "missing"
        source.keep(path, data)
        digest = hashlib.sha256(data).hexdigest()
        # A racy file (changed within RACY_NS of this build) may change again
        # with the same stat: never remembered, hashed every time.
        if max(st.st_mtime_ns, st.st_ctime_ns) < self._racy:
            self.files[path] = [_stamp(st), digest]
            self.dirty = True
        else:
            self.files.pop(path, None)
        return digest
