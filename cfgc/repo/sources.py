"""Where a config repo's files come from: a working tree, or a git commit.

Both kinds answer the same two questions (which files exist, what bytes a file
holds), so the compiler never knows whether it reads a checkout or git objects;
``cfgc build --ref`` and ``cfgc diff`` compile commits without a checkout.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from cfgc.base import limits
from cfgc.base.errors import InputError, Location, UsageError
from cfgc.base.repopath import NotFound, Tree, link_error, relative_problem
from cfgc.repo.gitinfo import GitQuery, strip_credentials, utc
from cfgc.repo.gitobjects import BlobTooLarge, CatFile, read_batch, resolve
from cfgc.repo.listing import SKIP_DIRS, ls_tree, path_too_long, scan, too_many

if TYPE_CHECKING:
    import git

CONFIG_FILE = "cfgc.yaml"
# Bytes DirSource.keep holds for one build at most (the layers hashed for cache keys).
KEEP_MAX_BYTES = 256 * 1024 * 1024
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
            scan(self._root, "", out, self.folders)
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

    def keep(self, path: str, data: bytes) -> None:
        """Serve the next ``read(path)`` from ``data``, just read and hashed by the caller.

        The build cache hashes a layer file for its key and the compile then
        needs the same file: reading it once saves the syscalls of a second
        read, and the compile sees exactly the bytes the key names.  Bounded by
        :data:`KEEP_MAX_BYTES` in all; past it, files are simply read again.
        """
        if self._kept_bytes + len(data) <= KEEP_MAX_BYTES:
            self._kept[path] = data
            self._kept_bytes += len(data)

    def close(self) -> None:
        """Close the folders the reads hold open (a later read opens them again)."""
        self._tree.close()

    def start_info(self) -> GitQuery:
        """Start the git processes :meth:`info` needs; pass the query to :meth:`info` later."""
        return GitQuery(self.root)

    def info(self, started: GitQuery | None = None) -> SourceInfo:
        """What git says of the tree (at the time ``started`` was started, if given)."""
        return SourceInfo(**(started or GitQuery(self.root)).fields())


def folder_entries(folder: str) -> list[str]:
    """The entries of one folder as a listing sees them: files, then ``name/`` for each folder it enters."""
    names: list[str] = []
    with os.scandir(folder) as it:
        # One entry past the listing's bound is enough to refuse the folder, as a listing does.
        for e in islice(it, limits.MAX_REPO_FILES + 1):
            if len(names) == limits.MAX_REPO_FILES:
                raise too_many(folder)
            if e.is_dir(follow_symlinks=False):
                if e.name not in SKIP_DIRS:
                    names.append(e.name + "/")
            else:
                names.append(e.name)
    return names


MAX_REF_HINTS = 3  # close branch/tag names shown after an unknown revision


def _close_refs(repo: Any, ref: str) -> str:
    """``; did you mean 'main'?`` for the branch and tag names closest to a typo'd ref."""
    import difflib

    try:
        names = [str(r.name) for r in repo.refs]
    except Exception:  # noqa: BLE001 - a hint is optional; the error stands without it
        return ""
    close = difflib.get_close_matches(ref, sorted(set(names)), n=MAX_REF_HINTS, cutoff=0.6)
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


LINK_MODE = 0o120000  # a git tree entry that is a symbolic link (its blob holds the target)


class _Blob(NamedTuple):
    """One file of a git tree: its mode and object id (a named tuple: a tree
    listing makes 10,000 of them, and a frozen dataclass costs five times the time)."""

    mode: int
    hexsha: str

    @property
    def binsha(self) -> bytes:
        return bytes.fromhex(self.hexsha)


class GitSource:
    """Files of one commit, read from git objects without a checkout."""

    def __init__(self, root: Path, ref: str, option: str = "--ref") -> None:
        """``option`` is what the user gave the ref with (``--base``, ``cfgc history``),
        so a failure names their own option, not one their command does not have."""
        self.root = root
        self.ref = ref
        self._repo: Any = None
        self._commit: Any = None
        found = resolve(root, ref)
        if found is None:  # GitPython's path: its errors say what is wrong
            self._open_with_gitpython(root, ref, option)
        else:
            toplevel, self.git_dir, self.commit_id, self._tree_id = found
            self._set_subdir(root, toplevel)
        self._blobs: dict[str, Any] | None = None
        self._data: dict[str, bytes] = {}
        self._cat = CatFile(self.git_dir)

    def _set_subdir(self, root: Path, toplevel: str) -> None:
        self.subdir = os.path.relpath(root.resolve(), Path(toplevel).resolve()).replace(os.sep, "/")
        if self.subdir == ".":
            self.subdir = ""

    def _open_with_gitpython(self, root: Path, ref: str, option: str) -> None:
        import git

        try:
            self._repo = git.Repo(root, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise UsageError(f"{option} needs a git repository, and {root} is not in one") from None
        toplevel = Path(self._repo.working_tree_dir or root).resolve()
        self._set_subdir(root, str(toplevel))
        try:
            self._commit = self._repo.commit(ref)
        except (git.BadName, ValueError, git.GitCommandError):
            # A ref the repo does not have is a typo on the command line (exit 2), not a git failure.
            raise UsageError(f"{option} {ref}: unknown revision {ref!r} in {toplevel}"
                             + _close_refs(self._repo, ref)) from None
        tree = self._commit.tree
        if self.subdir:
            try:
                tree = tree / self.subdir
            except KeyError:
                raise InputError(f"{self.subdir} does not exist at {ref}") from None
        self.git_dir = str(self._repo.git_dir)
        self.commit_id = str(self._commit.hexsha)
        self._tree_id = str(tree.hexsha)

    @property
    def repo(self) -> Any:
        """The GitPython repository (opened on first use: only metadata needs it)."""
        if self._repo is None:
            import git

            self._repo = git.Repo(self.root, search_parent_directories=True)
        return self._repo

    @property
    def commit(self) -> Any:
        """The GitPython commit read."""
        if self._commit is None:
            self._commit = self.repo.commit(self.commit_id)
        return self._commit

    @property
    def tree(self) -> Any:
        """The GitPython tree read (the commit's, or its subfolder's)."""
        tree = self.commit.tree
        return tree / self.subdir if self.subdir else tree

    def _index(self) -> dict[str, Any]:
        if self._blobs is None:
            # One 'git ls-tree' lists 10,000 files in a fraction of the time
            # GitPython takes to build an object per tree entry.
            out = ls_tree(self.git_dir, self._tree_id)
            blobs: dict[str, Any] = {}
            max_path = limits.MAX_PATH_BYTES
            # os.fsdecode's own decoding, without its call per entry (10,000 of them)
            enc, errors = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()
            for entry in out.split(b"\0"):
                meta, tab, name = entry.partition(b"\t")
                if not tab:
                    continue
                if len(name) > max_path:
                    raise path_too_long(os.fsdecode(name))
                mode, kind, sha = meta.split()
                if kind == b"blob":  # not a submodule ('commit')
                    blobs[name.decode(enc, errors)] = _Blob(int(mode, 8), sha.decode("ascii"))
            self._blobs = blobs
        return self._blobs

    def files(self) -> list[str]:
        return sorted(self._index())

    def tree_id(self) -> str:
        """The git object id of the tree read (the commit's, or its subfolder's):
        it names every path, mode and blob id below."""
        return self._tree_id

    def blob_ids(self) -> dict[str, str]:
        """:meth:`blob_sha` of every file, by path."""
        return {p: b.hexsha for p, b in self._index().items()}

    def blob_sha(self, path: str) -> str:
        """The git object id of a file (a content digest, free to get)."""
        blob = self._index().get(path)
        return str(blob.hexsha) if blob is not None else "missing"

    def read(self, path: str) -> bytes:
        data = self._data.get(path)
        if data is not None:
            return data
        blob = self._index().get(path)
        if blob is None:
            problem = relative_problem(path)
            if problem:
                raise InputError(problem, Location(path))
            raise NotFound(f"file not found at {self.ref}: {path}")
        if blob.mode == LINK_MODE:
            raise link_error(path)
        try:
            return self._cat.read(blob.hexsha)
        except BlobTooLarge as e:
            raise InputError(f"{path} is {e}", Location(path)) from None

    def close(self) -> None:
        """Stop the ``git cat-file`` processes this source (and GitPython, if used) keeps
        (a later read starts them again)."""
        self._cat.close()
        if self._repo is not None:
            self._repo.close()

    def prefetch(self, paths: Iterable[str]) -> None:
        """Read many files in one ``git cat-file --batch`` pass and keep their bytes.

        Afterwards ``read`` needs no git process, so the source can be used
        from forked worker processes.
        """
        index = self._index()
        wanted = [p for p in dict.fromkeys(paths)
                  if p in index and p not in self._data and index[p].mode != LINK_MODE]
        if not wanted:
            return
        try:
            blobs = read_batch(self.git_dir, [index[p].hexsha for p in wanted])
        except BlobTooLarge as e:
            path = next(p for p in wanted if index[p].hexsha == e.oid)
            raise InputError(f"{path} is {e}", Location(path)) from None
        self._data.update(zip(wanted, blobs, strict=True))

    def info(self) -> SourceInfo:
        c = self.commit
        return SourceInfo(
            repo_url=_remote_url(self.repo),
            ref=_ref_name(self.repo, self.ref),
            commit=c.hexsha,
            commit_time=utc(c.committed_date),
            dirty=False,
            subdir=self.subdir,
        )


def _ref_name(repo: git.Repo, ref: str) -> str:
    # The symbolic name ('main' for HEAD on main), so a build of the working
    # tree and of --ref HEAD record the same ref and stay byte-identical.
    env = os.environ.get("CFGC_REF_NAME")
    if env:
        return env
    try:
        name = repo.git.rev_parse("--abbrev-ref", ref)
    except Exception:  # noqa: BLE001 - fall back to what the user typed
        return ref
    return str(name) or ref


def _remote_url(repo: git.Repo) -> str | None:
    try:
        remotes = repo.remotes
        if remotes:
            url = remotes[0].url
            return strip_credentials(str(url))
    except Exception:  # noqa: BLE001 - a missing remote is not an error
        return None
    return None


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
        return GitSource(root, ref)
    return DirSource(root)
