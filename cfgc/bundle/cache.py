"""The build cache: compiled targets keyed by the digests of everything they read.

A target's key covers the cfgc version, the versions of the libraries that shape
its bytes, cfgc.yaml, every schema, the prompt library and the content of each of
its layer files; its value is the target's canonical JSON, stored once by digest.
A warm build reads only the files that changed (file digests are remembered by
stat, as git's index does: :mod:`cfgc.bundle.cache_digests`) and compiles only
the targets whose inputs changed.

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
writing the bytes out of a pack (docs/performance.md, "Why not a pack file");
measured again with the fill, a pack would save a fill less than it costs every
warm build (docs/performance.md, "The first fill, eleventh session").
Size bounds and garbage collection: see :meth:`BuildCache.save`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from cfgc.base.jsonvalue import JSONObject
from cfgc.bundle.cache_digests import FileDigests
from cfgc.bundle.cache_files import (
    link_blob,
    link_blob_at,
    open_blobs,
    prune_blobs,
    read_index,
    use_blob,
    write_blob,
    write_index,
)
from cfgc.bundle.cache_index import (
    INDEX_NAME,
    MAX_INDEX_BYTES,
    CacheCorrupt,
    cache_key,
    decode_index,
    default_cache_dir,
    encode_index,
    target_entry,
)
from cfgc.bundle.layout import TargetOutput, target_path, write_file
from cfgc.bundle.target_keys import TargetKeys
from cfgc.repo.hierarchy import TargetSpec
from cfgc.repo.inputs import unwrapped
from cfgc.repo.sources import DirSource, Source

if TYPE_CHECKING:
    from cfgc.bundle.folder_writer import FolderWriter

__all__ = ["BuildCache", "default_cache_dir"]

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
        self.digests = FileDigests(self._corrupt)
        self._targets: JSONObject = {}
        self._used: JSONObject = {}
        self._keys: tuple[Source, TargetKeys] | None = None
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
            data = read_index(self.root / INDEX_NAME, MAX_INDEX_BYTES + 1)
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
            self.digests.files_root, self.digests.files, self._targets = decode_index(self._key, data)
        except CacheCorrupt as e:
            self._corrupt(str(e))

    @property
    def key(self) -> bytes | None:
        """The key that authenticates this cache's files (None: the cache is disabled)."""
        return self._key

    def memo(self, path: str) -> tuple[str, str] | None:
        """``(stat stamp, sha256 hex)`` of a working-tree file this build hashed; the stamp is
        "" when the file was too recently changed to be known by stat."""
        return self.digests.memo(path)

    def known(self, path: str, hexdigest: str) -> None:
        """Take ``hexdigest`` as the sha256 of the working-tree file ``path`` for this build
        (an in-place build has just stat-checked or hashed it, and kept its bytes)."""
        self.digests.known(path, hexdigest)

    def watch(self, source: DirSource) -> None:
        """Keep no entry compiled from a file whose bytes differ from this build's digest of it
        (:meth:`cfgc.bundle.cache_digests.FileDigests.watch`)."""
        self.digests.watch(source)

    def retain_all(self) -> None:
        """Keep every entry on :meth:`save`, also those this build did not use (an in-place
        build looks up only the targets it compiles)."""
        self._retain = True

    # -- keys ---------------------------------------------------------------
    def file_digest(self, source: Source, path: str) -> str:
        """A content digest of one file, reading it only when its stat changed."""
        return self.digests.file_digest(source, path)

    def target_key(self, spec: TargetSpec, global_key: str, source: Source) -> str:
        """The cache key of one target (:class:`cfgc.bundle.target_keys.TargetKeys`)."""
        if self._keys is None or self._keys[0] is not source or self._keys[1].global_key != global_key:
            self._keys = (source, TargetKeys(global_key, lambda path: self.file_digest(source, path)))
        return self._keys[1].key(spec)


    def keys_in_workers(self, source: Source) -> bool:
        """Whether the workers may key their own targets: the index holds no target
        entry (a first fill: nothing to look up) and ``source`` is a working tree.

        Each worker then hashes the very bytes its compile parses and sends back
        what it learnt (:meth:`hashed`), which the parent takes in (:meth:`adopt`).
        Call it in the parent before the workers fork.
        """
        plain = unwrapped(source)
        if self._key is None or self._targets or not isinstance(plain, DirSource):
            return False
        self.digests.report(plain)
        return True

    def hashed(self) -> list[tuple[str, str, str]]:
        """What this worker hashed for its keys since the last call
        (:meth:`cfgc.bundle.cache_digests.FileDigests.hashed`)."""
        return self.digests.hashed()

    def adopt(self, found: list[tuple[str, str, str]]) -> None:
        """Take in what a worker hashed (:meth:`cfgc.bundle.cache_digests.FileDigests.adopt`)."""
        self.digests.adopt(found)

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
            return use_blob(self._blobs, hexdigest, size, staging, rel)
        except (OSError, CacheCorrupt) as e:  # ELOOP: a symlink
            self._corrupt(f"blob {hexdigest[:12]}: {getattr(e, 'strerror', None) or e}")
            # An empty folder there would make the blob's replacement fail every build.
            # Through the blobs folder's own descriptor (never through a link), as pruning is.
            with contextlib.suppress(OSError):
                fd = open_blobs(self._blobs)
                try:
                    os.rmdir(hexdigest, dir_fd=fd)
                finally:
                    os.close(fd)
            return False

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

    def release(self) -> None:
        """Close the descriptor of ``blobs/`` this process opened (:meth:`save` does it too)."""
        if self._blobs_fd >= 0:
            fd, self._blobs_fd = self._blobs_fd, -1
            os.close(fd)

    def save(self) -> None:
        """Write the index (atomically) and drop blobs no entry refers to.

        The index keeps this build's entries and older ones up to twice as many
        plus 1,000; blobs are pruned once there are more than twice the kept
        entries plus 100 of them (so at most 4 x targets + 2,100 remain).
        """
        self.release()
        if self._key is None or (not (self._dirty or self.digests.dirty) and len(self._used) == len(self._targets)):
            return  # a fully warm build: the index already says all of it
        targets = dict(self._used)
        # Keep older entries too (a branch switch back should stay warm), bounded.
        budget = 2 * len(targets) + 1000 + (len(self._targets) if self._retain else 0)
        for k, v in self._targets.items():
            if len(targets) >= budget:
                break
            targets.setdefault(k, v)
        with contextlib.suppress(OSError):
            write_index(self.root, INDEX_NAME, encode_index(self._key, self.digests.files_root, self.digests.files, targets))
            prune_blobs(self._blobs, {str(v[0])[len("sha256:") :] for v in targets.values() if isinstance(v, list) and v})

    def clear(self) -> None:
        """Remove the whole cache."""
        shutil.rmtree(self.root, ignore_errors=True)
