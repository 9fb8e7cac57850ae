"""Files of one git commit, read from git objects without a checkout (``--ref``, ``--base``, ``cfgc history``).

Split out of :mod:`cfgc.repo.sources` (which still exports :class:`GitSource`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from cfgc.base import limits
from cfgc.base.errors import InputError, Location, UsageError
from cfgc.base.repopath import NotFound, link_error, relative_problem
from cfgc.repo.gitinfo import strip_credentials, utc
from cfgc.repo.gitobjects import BlobTooLarge, CatFile, read_batch, resolve
from cfgc.repo.listing import ls_tree, path_too_long

if TYPE_CHECKING:
    import git

    from cfgc.repo.sources import SourceInfo

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
        from cfgc.repo.sources import SourceInfo

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
