"""Containment: every path cfgc reads stays inside its root, and no link is followed.

A config repo comes from a pull request, so its file names, its links and the
paths it writes in cfgc.yaml are hostile input.  One rule for every reader
(layers, prompts, schemas, policies, SOPS files, cfgc.yaml itself, and bundle
files read back by ``verify``/``publish``):

* a path is relative, POSIX, normalised: no leading ``/``, no ``.`` or ``..``
  segment, no empty segment, no NUL;
* it is opened one segment at a time below the root with ``O_NOFOLLOW``, so a
  symbolic link anywhere on the way (the file itself or a folder above it) is
  refused, never followed, whether it points inside the repo or out of it.
  Refusing is simpler than following links that stay inside, and leaves no
  race between checking a link and opening what it names;
* only regular files are read (a FIFO would hang the build, a device would leak),
  each within :data:`cfgc.base.limits.MAX_FILE_BYTES` (:mod:`cfgc.base.bounded_read`).

Names cfgc derives from the repo (hierarchy variables taken from file names,
target names, bundle paths) follow a stricter grammar, :data:`SEGMENT`, so they
can never name a folder above the output or act as a glob.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import threading

from cfgc.base.bounded_read import NOT_REGULAR, NotRegular, read_open
from cfgc.base.errors import InputError, Location

#: One name: a letter, digit or ``_`` then letters, digits, ``.``, ``_``, ``-``.
#: It cannot be ``.`` or ``..``, hold ``/`` or a glob character (``*?[]{}``).
SEGMENT = r"[A-Za-z0-9_][A-Za-z0-9._-]*"
MAX_SEGMENT = 128  # characters of one variable value or target name segment
MAX_TARGET = 1024  # characters of a whole target name
LINK_MESSAGE = "is a symbolic link; cfgc does not follow links"

_SEGMENT_RE = re.compile(SEGMENT + r"\Z")
# A whole valid target name in one match (segments of at most MAX_SEGMENT):
# checked for every target of a build; the segment loop only explains a failure.
_BOUNDED = rf"[A-Za-z0-9_][A-Za-z0-9._-]{{0,{MAX_SEGMENT - 1}}}"
_TARGET_RE = re.compile(rf"{_BOUNDED}(?:/{_BOUNDED})*\Z")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO must not wait for a writer; it is then refused as not a regular file.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class NotFound(InputError):
    """A file the repo (or bundle) does not hold: exit 1."""


def segment_problem(value: str) -> str | None:
    """Why ``value`` is not a valid variable value (one path segment), or None."""
    if len(value) > MAX_SEGMENT:
        return f"is {len(value)} characters long; the limit is {MAX_SEGMENT}"
    if not _SEGMENT_RE.match(value):
        return f"{value!r} is not a safe name: use letters, digits, '.', '_', '-' and do not start with '.' or '-'"
    return None


def target_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid target name (segments joined by ``/``), or None."""
    if len(name) > MAX_TARGET:
        return f"target name is {len(name)} characters long; the limit is {MAX_TARGET}"
    if _TARGET_RE.match(name):
        return None
    for seg in name.split("/"):
        problem = segment_problem(seg)
        if problem:
            return f"target name {name!r}: segment {problem}" if seg else f"target name {name!r} has an empty segment"
    return None


def relative_problem(path: str) -> str | None:
    """Why ``path`` is not a normalised relative path inside a root, or None."""
    # The common path first, by substring tests only (runs for every file a
    # build reads and writes): no segment can be "", "." or ".." when none
    # starts with "." or "/" and the path does not end with "/".
    if path and path[0] != "." and path[0] != "/" and path[-1] != "/" and "/." not in path and "//" not in path:
        return None if "\0" not in path else "the path holds a NUL character"
    if not path:
        return "the path is empty"
    if "\0" in path:
        return "the path holds a NUL character"
    if path.startswith("/"):
        return f"{path!r} is absolute; paths are relative to their root"
    parts = path.split("/")
    if ".." in parts:
        return f"{path!r} leaves its root ('..')"
    if "" in parts or "." in parts:
        return f"{path!r} is not normalised (empty or '.' segment)"
    return None


def check_relative(path: str, location: Location) -> str:
    """``path`` if it is a relative path inside the repo; InputError at ``location`` otherwise."""
    problem = relative_problem(path)
    if problem:
        raise InputError(problem, location)
    return path


def link_error(rel: str, component: str | None = None) -> InputError:
    """The error for a link met while reading ``rel`` (``component`` is the folder that is a link)."""
    what = "the file" if component is None or component == rel else component
    return InputError(f"{what} {LINK_MESSAGE}", Location(rel))


def read_under(root: str, rel: str) -> bytes:
    """The bytes of the regular file ``rel`` below the folder ``root``, following no link.

    ``root`` itself is trusted (the ``--repo`` or bundle folder the user named).
    """
    tree = Tree(root, max_open=0)
    try:
        return tree.read(rel)
    finally:
        tree.close()


class Tree:
    """Reads files below one root folder without following links.

    Keeps up to ``max_open`` folders open (each opened segment by segment
    with ``O_NOFOLLOW`` once), so reading many files of one folder costs one
    ``openat`` each.  An open folder stays the folder that was checked even if
    a link replaces its name later.
    """

    def __init__(self, root: str, max_open: int = 64) -> None:
        self.root = root
        self.max_open = max_open
        self._dirs: dict[str, int] = {}  # folder rel path -> fd, oldest first
        self._lock = threading.Lock()

    def read(self, rel: str) -> bytes:
        """The bytes of the regular file ``rel``; InputError naming ``rel`` otherwise."""
        return self.read_stat(rel)[0]

    def read_stat(self, rel: str) -> tuple[bytes, os.stat_result]:
        """:meth:`read`, and the ``fstat`` of the file read (no separate ``stat`` needed)."""
        problem = relative_problem(rel)
        if problem:
            raise InputError(problem, Location(rel))
        folder, _, name = rel.rpartition("/")
        with self._lock:  # a folder fd is not closed (evicted) while another thread opens through it
            fd, owned = self._folder(folder, rel)
            try:
                ffd = _open_at(fd, name, _FILE_FLAGS, rel, rel)
            finally:
                if owned:
                    os.close(fd)
        try:
            st = os.fstat(ffd)
            if not stat.S_ISREG(st.st_mode):
                raise NotRegular(NOT_REGULAR, Location(rel))
            return read_open(ffd, st, rel), st
        finally:
            os.close(ffd)

    def _folder(self, folder: str, rel: str) -> tuple[int, bool]:
        """An fd of ``folder`` and whether the caller must close it."""
        fd = self._dirs.get(folder)
        if fd is not None:
            return fd, False
        try:
            fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as e:
            raise InputError(f"cannot open {self.root}: {e.strerror}") from None
        if folder:
            parts = folder.split("/")
            try:
                for i, part in enumerate(parts):
                    sub = _open_at(fd, part, _DIR_FLAGS, rel, "/".join(parts[: i + 1]))
                    os.close(fd)
                    fd = sub
            except BaseException:
                os.close(fd)
                raise
        if self.max_open <= 0:
            return fd, True
        if len(self._dirs) >= self.max_open:
            oldest = next(iter(self._dirs))
            os.close(self._dirs.pop(oldest))
        self._dirs[folder] = fd
        return fd, False

    def close(self) -> None:
        """Close the folders held open."""
        with self._lock:
            while self._dirs:
                os.close(self._dirs.popitem()[1])

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown
            self.close()


def _open_at(dir_fd: int, name: str, flags: int, rel: str, upto: str) -> int:
    try:
        return os.open(name, flags, dir_fd=dir_fd)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            try:
                if stat.S_ISLNK(os.lstat(name, dir_fd=dir_fd).st_mode):
                    raise link_error(rel, upto) from None
            except OSError:
                pass
        if e.errno in (errno.ENOENT, errno.ENOTDIR):
            raise NotFound(f"file not found: {rel}") from None
        raise InputError(f"cannot read {rel}: {e.strerror}") from None


def inside(root: str, path: str) -> bool:
    """Whether ``path``, with every link resolved, is ``root`` or below it."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)
