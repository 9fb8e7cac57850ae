"""Where a config repo's files come from: a working tree, or a git commit.

Both kinds answer the same two questions (which files exist, what bytes a file
holds), so the compiler never knows whether it reads a checkout or git objects;
``cfgc build --ref`` and ``cfgc diff`` compile commits without a checkout.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from cfgc.base import limits
from cfgc.base.errors import CfgcError, UsageError
from cfgc.base.repopath import Tree
from cfgc.repo.gitinfo import GitQuery
from cfgc.repo.listing import SKIP_DIRS, scan, too_many

if TYPE_CHECKING:
    from cfgc.repo.git_source import GitSource as GitSource  # the compatible import below, for mypy

if TYPE_CHECKING:
    pass

CONFIG_FILE = "cfgc.yaml"
# Bytes DirSource.keep holds for one build at most (the layers hashed for cache keys).
KEEP_MAX_BYTES = 256 * 1024 * 1024
# Bytes one DirSource.prefetch call holds at most (a chunk's own files: a few KB each);
# past it the rest are read by their own compiles.
PREFETCH_MAX_BYTES = 4 * 1024 * 1024
#: What :attr:`DirSource.read_ids` holds for a file read twice with different bytes.
MIXED = "mixed"


def blob_id(data: bytes) -> str:
    """The git blob id (SHA-1, hex) of ``data``."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class SourceInfo:
    """What a bundle records about where it was compiled from."""

    repo_url: str | None = None
    ref: str | None = None
    commit: str | None = None
    commit_time: str | None = None  # ISO 8601 UTC, from the commit, never the clock
    dirty: bool | None = None
    subdir: str = ""  # the config repo's folder inside the git repo


class Source(Protocol):
    """A read-only view of a config repo's files (POSIX paths relative to its root)."""

    def files(self) -> list[str]:
        """Every file path, sorted."""
        ...

    def read(self, path: str) -> bytes:
        """The bytes of one file; raises InputError if it does not exist."""
        ...

    def info(self) -> SourceInfo:
        """Commit, ref and state of the source."""
        ...


class DirSource:
    """Files of a directory on disk (a working tree)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._root = str(root)
        self._files: list[str] | None = None
        self._tree = Tree(self._root)
        self._kept: dict[str, bytes] = {}
        self._kept_bytes = 0
        # Told of every file read from disk rather than from what keep() held:
        # the build cache checks those bytes against the digest its key used.
        self.on_disk_read: Callable[[str, bytes], None] | None = None
        # Each folder the listing walked -> its stat, taken before it was listed:
        # a folder whose stat still matches still holds what the listing saw.
        self.folders: dict[str, os.stat_result] = {}
        # With track_reads: each file read -> the blob id of the bytes read (MIXED: two differed).
        self.read_ids: dict[str, str] | None = None
        self.read_mixed = False  # some file was read twice with different bytes

    def track_reads(self) -> dict[str, str]:
        """From now on, note the git blob id of the bytes each :meth:`read` returns.

        The file is the one thing a working tree does not hold still: a key
        made from a file's id vouches for a compile only if the compile read
        those very bytes (``cfgc diff``'s records check each layer with this).
        """
        if self.read_ids is None:
            self.read_ids = {}
        return self.read_ids

    def files(self) -> list[str]:
        """Every file path, sorted; a symbolic link is listed as a file (reading it is refused)."""
        if self._files is None:
            out: list[str] = []
            scan(self._root, out, self.folders)
            out.sort()
            self._files = out
        return self._files

    def assume_listing(self, files: list[str]) -> None:
        """Take ``files`` (sorted) as the listing instead of walking the tree.

        Only for a caller that checked, folder by folder, that the tree still
        holds exactly these files (:mod:`cfgc.bundle.incremental`).
        """
        self._files = files

    def read(self, path: str) -> bytes:
        kept = self._kept.pop(path, None)
        if kept is not None:
            self._kept_bytes -= len(kept)  # the bound is on what is held, not on what was ever kept
        if kept is not None:
            data = kept
        else:
            data = self._tree.read(path)
            if self.on_disk_read is not None:
                self.on_disk_read(path, data)
        ids = self.read_ids
        if ids is not None:
            found = blob_id(data)
            if ids.setdefault(path, found) != found:
                ids[path] = MIXED
                self.read_mixed = True
        return data

    def read_stat(self, path: str) -> tuple[bytes, os.stat_result]:
        """The bytes of one file and its ``fstat``, read from disk (never kept, never logged)."""
        return self._tree.read_stat(path)

    def keep(self, path: str, data: bytes) -> bool:
        """Serve the next ``read(path)`` from ``data``, just read and hashed by the caller.

        The build cache hashes a layer file for its key and the compile then
        needs the same file: reading it once saves the syscalls of a second
        read, and the compile sees exactly the bytes the key names.  Bounded by
        :data:`KEEP_MAX_BYTES` in all; past it, files are simply read again.
        Returns whether the bytes are kept.
        """
        if self._kept_bytes + len(data) > KEEP_MAX_BYTES:
            return False
        self._kept[path] = data
        self._kept_bytes += len(data)
        return True

    def prefetch(self, paths: Iterable[str]) -> list[str]:
        """Read ``paths`` now, one after the other, and serve each one's next :meth:`read` from
        memory (:meth:`keep`, within its bound); returns the paths it kept, for :meth:`drop`.

        For a caller about to compile targets whose own files these are: reading them
        in one run, before the compiles, keeps the kernel's work from cooling the
        compile's caches between two targets.  Does nothing while reads are
        witnessed (:attr:`on_disk_read`: a build cache checks what comes from disk)
        and never replaces bytes already kept; a file that cannot be read is left
        for its own read to fail with its own error.  Holds at most
        :data:`PREFETCH_MAX_BYTES`: it stops at the file that would pass it.
        """
        kept: list[str] = []
        if self.on_disk_read is not None:
            return kept
        budget = PREFETCH_MAX_BYTES
        for path in paths:
            if path not in self._kept:
                try:
                    data = self._tree.read(path)
                except (CfgcError, OSError):
                    continue
                budget -= len(data)
                if budget < 0:  # large files: read by their own compile, not held for the chunk
                    break
                if self.keep(path, data):  # only what is held: a caller keys it as the bytes compiled
                    kept.append(path)
        return kept

    def drop(self, paths: Iterable[str]) -> None:
        """Forget the bytes still kept for ``paths`` (prefetched for compiles that never read them)."""
        for path in paths:
            data = self._kept.pop(path, None)
            if data is not None:
                self._kept_bytes -= len(data)

    def close(self) -> None:
        """Close the folders the reads hold open (a later read opens them again)."""
        self._tree.close()

    def start_info(self) -> GitQuery:
        """Start the git processes :meth:`info` needs; pass the query to :meth:`info` later."""
        return GitQuery(self.root)

    def info(self, started: GitQuery | None = None) -> SourceInfo:
        """What git says of the tree (at the time ``started`` was started, if given)."""
        return SourceInfo(**(started or GitQuery(self.root)).fields())


_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def folder_entries(folder: str, root: str | None = None) -> list[str]:
    """The entries of one folder as a listing sees them: files, then ``name/`` for each folder it enters.

    ``folder`` itself is opened with ``O_NOFOLLOW`` and listed through that
    descriptor: a folder swapped for a link since it was walked raises OSError
    (ELOOP) instead of listing what the link points to.  With ``root``,
    ``folder`` is a path relative to it and every folder on the way down is
    opened the same way from its parent's descriptor, so a link anywhere below
    ``root`` raises too (``O_NOFOLLOW`` alone guards only the last name).
    """
    names: list[str] = []
    fd = os.open(folder, _FOLDER_FLAGS) if root is None else _open_below(root, folder)
    try:
        with os.scandir(fd) as it:
            # One entry past the listing's bound is enough to refuse the folder, as a listing does.
            for e in islice(it, limits.MAX_REPO_FILES + 1):
                if len(names) == limits.MAX_REPO_FILES:
                    raise too_many(folder)
                if e.is_dir(follow_symlinks=False):
                    if e.name not in SKIP_DIRS:
                        names.append(e.name + "/")
                else:
                    names.append(e.name)
    finally:
        os.close(fd)
    return names


def _open_below(root: str, rel: str) -> int:
    fd = os.open(root, _FOLDER_FLAGS & ~os.O_NOFOLLOW)  # the root is the user's own (resolved) path
    try:
        for part in rel.split("/"):
            if part:
                child = os.open(part, _FOLDER_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def find_repo_root(start: Path | None = None) -> Path:
    """Walk up from ``start`` (default: the current directory) to cfgc.yaml."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / CONFIG_FILE).is_file():
            return d
    raise UsageError(
        f"no {CONFIG_FILE} found in {here} or any parent directory; "
        "pass --repo DIR or run 'cfgc init' to create one"
    )


def open_source(repo: Path | None, ref: str | None = None) -> Source:
    """The source for ``--repo``/``--ref`` as the commands take them."""
    if repo is not None:
        root = repo.resolve()
        if not root.is_dir():
            raise UsageError(f"--repo {repo}: no such directory")
        if ref is None and not (root / CONFIG_FILE).is_file():
            raise UsageError(f"--repo {repo}: no {CONFIG_FILE} in that directory")
    else:
        root = find_repo_root()
    if ref is not None:
        from cfgc.repo.git_source import GitSource  # a working-tree build never needs git's reader

        return GitSource(root, ref)
    return DirSource(root)


def __getattr__(name: str) -> object:
    # Compatible imports: GitSource lived here before cfgc/repo/git_source.py;
    # loaded on use, so a working-tree build does not import git's reader.
    if name == "GitSource":
        from cfgc.repo.git_source import GitSource

        return GitSource
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
