"""The build cache: compiled targets keyed by the digests of everything they read.

A target's key covers the cfgc version, the versions of the libraries that shape
its bytes, cfgc.yaml, every schema, the prompt library and the content of each of
its layer files; its value is the target's canonical JSON, stored once by digest.
A warm build reads only the files that changed (file digests are remembered by
stat, as git's index does) and compiles only the targets whose inputs changed.

The cache lives outside the repo (see :func:`cfgc.bundle.cache_index.default_cache_dir`)
and is treated as untrusted data: the index is authenticated and bounded
(:mod:`cfgc.bundle.cache_index`), each digest is checked before it names a file, and each
blob is hashed as it is read and must equal its digest.  Anything wrong costs a
recompile and one warning line, never an error and never a wrong byte.

Layout::

    .gitignore       "*": a cache directory inside a git work tree is never committed
    index            authenticated JSON (see cfgc.bundle.cache_index)
    blobs/<hex>      canonical JSON of one compiled target, read-only; with a
                     bundle being written, the very inode of its bundle file

Blobs stay one file each rather than one pack file: a bundle is one file per
target, and hard-linking a verified blob into it was measured cheaper than
writing the bytes out of a pack (docs/performance.md, "Why not a pack file").
Size bounds and garbage collection: see :meth:`BuildCache.save`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from cfgc.base.jsonvalue import JSONObject
from cfgc.base.repopath import NotFound
from cfgc.bundle.cache_files import (
    OPEN_FLAGS,
    link_blob,
    link_blob_at,
    open_blobs,
    place,
    read_regular,
    write_blob,
    write_gitignore,
)
from cfgc.bundle.cache_index import (
    INDEX_NAME,
    MAX_INDEX_BYTES,
    CacheCorrupt,
    cache_key,
    decode_index,
    default_cache_dir,
    encode_index,
    file_entry,
    target_entry,
)
from cfgc.bundle.layout import TargetOutput, target_path, write_file
from cfgc.bundle.target_keys import TargetKeys
from cfgc.repo.hierarchy import TargetSpec
from cfgc.repo.inputs import unwrapped
from cfgc.repo.sources import DirSource, GitSource, Source

if TYPE_CHECKING:
    from cfgc.bundle.folder_writer import FolderWriter

__all__ = ["BuildCache", "default_cache_dir"]

# A file changed within this long of the build's start may change again without
# its stat changing (timestamps are coarser than writes): hash it, do not memo it.
RACY_NS = 2_000_000_000


def _stamp(st: os.stat_result) -> str:
    # ctime is in it: a rewrite that restores size and mtime (os.utime) still
    # changes ctime, which no unprivileged process can set.
    return f"{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_size}:{st.st_ino}"


class BuildCache:
    """A content-keyed cache of compiled targets in one directory.

    ``warn`` receives at most one line per build, when the cache turns out to
    hold something cfgc did not write.
    """

    def __init__(self, root: Path, warn: Callable[[str], None] | None = None) -> None:
        self.root = root
        self.blobs = root / "blobs"
        self._blobs = str(self.blobs)
        self._warn = warn
        self.problems: list[str] = []
        self._files: JSONObject = {}
        self._files_root = ""
        self._root_checked = False
        self._targets: JSONObject = {}
        self._used: JSONObject = {}
        self._digests: dict[str, str] = {}  # this build's file digests
        self._keys: tuple[Source, TargetKeys] | None = None
        self._found: list[tuple[str, str, str]] = []  # (path, digest, stamp) a worker hashed for its keys
        self._reporting = False  # keys_in_workers(): file_digest fills _found
        self._racy = time.time_ns() - RACY_NS
        self._dirty = False
        self._retain = False
        self._key: bytes | None = None
        self._blobs_fd = -1  # the blobs folder, opened by the first store (inherited by forked workers)
        try:
            self._key = cache_key()
        except OSError as e:
            self._report(f"warning: build cache disabled: no key ({e.strerror or e}); compiling every target")
            return
        self._load()

    def _report(self, line: str) -> None:
        if not self.problems and self._warn is not None:
            self._warn(line)
        self.problems.append(line)

    def _corrupt(self, reason: str) -> None:
        self._dirty = True  # rewrite the index, so the next build is clean
        self._report(f"warning: build cache at {self.root} is corrupt ({reason}); rebuilding")

    def _load(self) -> None:
        assert self._key is not None
        try:
            fd = os.open(self.root / INDEX_NAME, OPEN_FLAGS)
            try:
                data: bytes | None = read_regular(fd, MAX_INDEX_BYTES + 1)
            finally:
                os.close(fd)
        except FileNotFoundError:
            data = None
        except (OSError, CacheCorrupt) as e:
            self._corrupt(f"index: {getattr(e, 'strerror', None) or e}")
            data = None
        with contextlib.suppress(OSError):
            if os.path.islink(self.blobs) or (os.path.lexists(self.blobs) and not os.path.isdir(self.blobs)):
                os.unlink(self.blobs)  # only the link itself goes; blobs are written afresh
                self._corrupt("blobs is not a directory")
                return
        if data is None:
            return
        try:
            self._files_root, self._files, self._targets = decode_index(self._key, data)
        except CacheCorrupt as e:
            self._corrupt(str(e))

    @property
    def key(self) -> bytes | None:
        """The key that authenticates this cache's files (None: the cache is disabled)."""
        return self._key

    def memo(self, path: str) -> tuple[str, str] | None:
        """``(stat stamp, sha256 hex)`` of a working-tree file this build hashed; the stamp is
        "" when the file was too recently changed to be known by stat."""
        digest = self._digests.get(path)
        if digest is None or len(digest) != 64:
            return None
        return self._stamp_of(path, digest), digest

    def known(self, path: str, hexdigest: str) -> None:
        """Take ``hexdigest`` as the sha256 of the working-tree file ``path`` for this build
        (an in-place build has just stat-checked or hashed it, and kept its bytes)."""
        self._digests[path] = hexdigest

    def retain_all(self) -> None:
        """Keep every entry on :meth:`save`, also those this build did not use (an in-place
        build looks up only the targets it compiles)."""
        self._retain = True

    # -- keys ---------------------------------------------------------------
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
        if self._reporting:
            self._found.append((path, digest, self._stamp_of(path, digest)))
        return digest

    def _check_root(self, source: DirSource) -> None:
        if not self._root_checked:  # stat stamps only mean something for the files they came from
            self._root_checked = True
            root = str(source.root.resolve())
            if root != self._files_root:
                self._files, self._files_root = {}, root

    def _dir_digest(self, source: DirSource, path: str) -> str:
        self._check_root(source)
        hit = self._files.get(path)
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
            self._files[path] = [_stamp(st), digest]
            self._dirty = True
        else:
            self._files.pop(path, None)
        return digest

    def target_key(self, spec: TargetSpec, global_key: str, source: Source) -> str:
        """The cache key of one target (:class:`cfgc.bundle.target_keys.TargetKeys`)."""
        if self._keys is None or self._keys[0] is not source or self._keys[1].global_key != global_key:
            self._keys = (source, TargetKeys(global_key, lambda path: self.file_digest(source, path)))
        return self._keys[1].key(spec)

    def keys_in_workers(self, source: Source) -> bool:
        """Whether the workers may key their own targets: the index holds no target
        entry (a first fill: nothing to look up) and ``source`` is a working tree.

        Each worker then hashes the very bytes its compile parses and sends back
        what it learnt (:meth:`hashed`); the parent takes it in with :meth:`adopt`.
        Called in the parent before the workers fork (the stat memo is matched to
        this repo root first, so every worker starts from the same memo).
        """
        plain = unwrapped(source)
        if self._key is None or self._targets or not isinstance(plain, DirSource):
            return False
        self._check_root(plain)
        self._reporting = True
        return True

    def hashed(self) -> list[tuple[str, str, str]]:
        """``(path, sha256 hex, stat stamp or "")`` of the files read for keys since the last call."""
        found, self._found = self._found, []
        return found

    def adopt(self, found: list[tuple[str, str, str]]) -> None:
        """Take in what a worker hashed (:meth:`hashed`).

        Two workers may read one shared file.  When they saw different bytes (it
        changed during the build) the file gets no digest and no stat memo, so
        no in-place state is left (each worker's keys still name the bytes its
        own compile parsed); when they saw the same bytes under different
        stamps, only the stat memo is dropped (which stamp is current is unknown).
        """
        for path, digest, stamp in found:
            self._dirty = True
            seen = self._digests.get(path)
            if seen is None:
                self._digests[path] = digest
                if stamp:
                    self._files[path] = [stamp, digest]
                else:
                    self._files.pop(path, None)
            elif seen != digest:
                self._digests[path] = "changed during the build"
                self._files.pop(path, None)
            elif self._stamp_of(path, digest) != stamp:
                self._files.pop(path, None)

    def _stamp_of(self, path: str, digest: str) -> str:
        # The stat stamp the memo holds for ``path`` with this digest ("" for none);
        # ``digest`` is one this build computed, so equal to it means well formed.
        hit = self._files.get(path)
        if type(hit) is list and len(hit) == 2 and hit[1] == digest and type(hit[0]) is str:
            return hit[0]
        return ""

    # -- entries -------------------------------------------------------------
    def get_many(
        self, keyed: list[tuple[TargetSpec, str]], staging: Path | None
    ) -> tuple[list[TargetOutput], list[tuple[TargetSpec, str | None]]]:
        """Cached outputs for many targets, and the ones to compile."""
        found: list[TargetOutput] = []
        misses: list[tuple[TargetSpec, str | None]] = []
        for spec, key in keyed:
            out = self.get(key, spec, staging)
            if out is None:
                misses.append((spec, key))
            else:
                found.append(out)
        return found, misses

    def get(self, key: str, spec: TargetSpec, staging: Path | None) -> TargetOutput | None:
        """The cached output for ``key``, its bytes verified; placed into ``staging``."""
        raw = self._targets.get(key)
        if raw is None:
            return None
        entry = target_entry(raw)
        if entry is None:
            self._corrupt(f"malformed entry for {spec.name}")
        elif self._place_blob(entry[0], entry[1], staging, target_path(spec.name)):
            self._used[key] = raw
            return TargetOutput(spec.name, spec.variables, *entry)
        del self._targets[key]
        return None

    def _place_blob(self, digest: str, size: int, staging: Path | None, rel: str) -> bool:
        hexdigest = digest[len("sha256:") :]  # target_entry checked it is 64 hex digits
        try:
            fd = os.open(f"{self._blobs}/{hexdigest}", OPEN_FLAGS)
        except FileNotFoundError:
            return False  # pruned meanwhile by another build: just compile
        except OSError as e:  # ELOOP: a symlink
            self._corrupt(f"blob {hexdigest[:12]}: {e.strerror}")
            return False
        try:
            data = read_regular(fd, size + 1)
            if len(data) != size or hashlib.sha256(data).hexdigest() != hexdigest:
                raise CacheCorrupt("does not match its digest")
            if staging is not None:
                place(fd, data, staging, rel)
        except (OSError, CacheCorrupt) as e:
            self._corrupt(f"blob {hexdigest[:12]} {getattr(e, 'strerror', None) or e}")
            return False
        finally:
            os.close(fd)
        return True

    def store(
        self, digest: str, data: bytes, staging: Path | None = None, rel: str = "", writer: FolderWriter | None = None
    ) -> None:
        """Store the bytes of a compiled target, and place them into ``staging``
        (safe from several processes; ``writer``, writing into ``staging``, keeps its folder open).

        With a staging directory the bundle file is written (read-only) and
        then linked as the blob: one file and one link per target, where a
        separate blob would cost a second file, a rename and the link.
        """
        write = None
        if staging is not None:
            write = writer.write if writer is not None else partial(write_file, staging)
        if self._key is None:
            if write is not None:
                write(rel, data)
            return
        hexdigest = digest.removeprefix("sha256:")
        if write is not None:
            src = write(rel, data, 0o444)
            if writer is not None and self._blobs_fd < 0:
                try:
                    self._blobs_fd = open_blobs(self._blobs)
                except OSError:  # ELOOP: blobs/ became a link; never written through
                    return
            with contextlib.suppress(OSError):  # a cache that cannot be written is only slower
                if writer is None:
                    link_blob(self._blobs, src, hexdigest)
                else:  # linkat relative to the two open folders: no path walked per target
                    link_blob_at(writer, rel, self._blobs_fd, hexdigest)
                return
        write_blob(self._blobs, hexdigest, data)

    def record(self, key: str, out: TargetOutput) -> None:
        """Remember that ``key`` compiles to ``out`` (whose bytes are stored)."""
        self._used[key] = [out.digest, out.size, list(out.prompts), list(out.secrets)]
        self._dirty = True

    def save(self) -> None:
        """Write the index (atomically) and drop blobs no entry refers to.

        The index keeps this build's entries and older ones up to twice as many
        plus 1,000; blobs are pruned once there are more than twice the kept
        entries plus 100 of them (so at most 4 x targets + 2,100 remain).
        """
        if self._blobs_fd >= 0:
            fd, self._blobs_fd = self._blobs_fd, -1
            os.close(fd)
        if self._key is None or (not self._dirty and len(self._used) == len(self._targets)):
            return  # a fully warm build: the index already says all of it
        targets = dict(self._used)
        # Keep older entries too (a branch switch back should stay warm), bounded.
        budget = 2 * len(targets) + 1000 + (len(self._targets) if self._retain else 0)
        for k, v in self._targets.items():
            if len(targets) >= budget:
                break
            targets.setdefault(k, v)
        with contextlib.suppress(OSError):
            self.root.mkdir(parents=True, exist_ok=True)
            write_gitignore(self.root)
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".index.")
            with os.fdopen(fd, "wb") as f:
                f.write(encode_index(self._key, self._files_root, self._files, targets))
            os.replace(tmp, self.root / INDEX_NAME)
            self._prune({str(v[0])[len("sha256:") :] for v in targets.values() if isinstance(v, list) and v})

    def _prune(self, keep: set[str]) -> None:
        if not os.path.isdir(self._blobs) or os.path.islink(self._blobs):
            return
        names = os.listdir(self._blobs)
        if len(names) <= 2 * len(keep) + 100:
            return
        for name in names:
            if name not in keep:
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(self._blobs, name))

    def clear(self) -> None:
        """Remove the whole cache."""
        shutil.rmtree(self.root, ignore_errors=True)
