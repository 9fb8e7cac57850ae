"""The build cache's file digests: a working-tree file is hashed only when its stat changed.

Digests are remembered by stat stamp, as git's index does; the stamps live in
the cache index (:mod:`cfgc.bundle.cache_index`), which :class:`cfgc.bundle.cache.BuildCache`
loads and saves.  A stamp only means something for the folder it came from, so
the remembered files are dropped when the source's root differs.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable

from cfgc.base.jsonvalue import JSONObject
from cfgc.base.repopath import NotFound
from cfgc.bundle.cache_index import file_entry
from cfgc.repo.inputs import unwrapped
from cfgc.repo.sources import DirSource, GitSource, Source

__all__ = ["RACY_NS", "FileDigests"]

# A file changed within this long of the build's start may change again without
# its stat changing (timestamps are coarser than writes): hash it, do not memo it.
RACY_NS = 2_000_000_000


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

    def memo(self, path: str) -> tuple[str, str] | None:
        """``(stat stamp, sha256 hex)`` of a working-tree file this build hashed; the stamp is
        "" when the file was too recently changed to be known by stat."""
        digest = self._digests.get(path)
        if digest is None or len(digest) != 64:
            return None
        hit = file_entry(self.files.get(path))
        return (hit[0] if hit is not None and hit[1] == digest else ""), digest

    def known(self, path: str, hexdigest: str) -> None:
        """Take ``hexdigest`` as the sha256 of the working-tree file ``path`` for this build."""
        self._digests[path] = hexdigest

    def file_digest(self, source: Source, path: str) -> str:
        """A content digest of one file, reading it only when its stat changed."""
        memo = self._digests.get(path)
        if memo is not None:
            return memo
        source = unwrapped(source)
        if isinstance(source, GitSource):
            digest = "git:" + source.blob_sha(path)
        elif isinstance(source, DirSource):
            digest = self._dir_digest(source, path)
        else:
            digest = hashlib.sha256(source.read(path)).hexdigest()
        self._digests[path] = digest
        return digest

    def _dir_digest(self, source: DirSource, path: str) -> str:
        if not self._root_checked:  # stat stamps only mean something for the files they came from
            self._root_checked = True
            root = str(source.root.resolve())
            if root != self.files_root:
                self.files, self.files_root = {}, root
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
