"""Listing a repo's files within :data:`~cfgc.base.limits.MAX_REPO_FILES` (working tree or git tree).

Each bound is checked while listing, so a hostile repo (millions of empty
files, a folder nested thousands deep, one path of megabytes) fails at once
with exit 1 instead of after the runner has listed it all:

* files and folders: :data:`~cfgc.base.limits.MAX_REPO_FILES` in all (so also
  the entries of any one folder);
* folder depth below the root: :data:`~cfgc.base.limits.MAX_REPO_DEPTH` (the
  walk recurses once per level);
* one path, of a git listing or of the working tree:
  :data:`~cfgc.base.limits.MAX_PATH_BYTES`.

A folder that cannot be listed because it is unreadable or gone is skipped (as
:func:`os.walk` does); any other failure (out of descriptors or memory, an I/O
error) stops the listing with exit 4, so a build never leaves a subtree out
without saying so.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import time
from itertools import islice

from cfgc.base import limits
from cfgc.base.errors import ExternalError, InputError, Location

__all__ = ["SKIP_DIRS", "ls_tree", "path_too_long", "scan", "too_many"]

# Folders a listing never enters (tools' state, not configuration).
SKIP_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", "node_modules", ".venv", ".cfgc"})
_RAISE = "split the repo, or keep files cfgc does not read out of it (the bound is {name} in cfgc/base/limits.py)"


def too_many(where: str) -> InputError:
    """The error for a listing over :data:`~cfgc.base.limits.MAX_REPO_FILES`, at the folder it was reached in."""
    return InputError(
        f"the repo holds more than {limits.MAX_REPO_FILES:,} files and folders, the bound on one listing; "
        + _RAISE.format(name="MAX_REPO_FILES"), Location(where or "."))


def path_too_long(where: str) -> InputError:
    """The error for a path of a listing over :data:`~cfgc.base.limits.MAX_PATH_BYTES`."""
    return InputError(f"a path in the repo is longer than {limits.MAX_PATH_BYTES} bytes, the bound on one "
                      "path; " + _RAISE.format(name="MAX_PATH_BYTES"), Location(where[:200]))


# What may make a folder unlistable without the listing being wrong: it is
# unreadable to this user, or it went away.  Anything else (EMFILE, ENFILE,
# ENOMEM, EIO...) says nothing about the repo, only about this process.
_SKIPPED = frozenset({errno.EACCES, errno.EPERM, errno.ENOENT})


def _cannot_list(where: str, err: OSError) -> ExternalError:
    return ExternalError(f"cannot list the repo folder {where or '.'!r}: {err.strerror or err}")


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
# Below the root: a folder swapped for a link after its parent was listed is never entered.
_SUB_FLAGS = _DIR_FLAGS | os.O_NOFOLLOW


def scan(root: str, out: list[str], folders: dict[str, os.stat_result]) -> None:
    """Append every file below ``root`` to ``out`` (relative POSIX paths) and note each
    folder's stat, taken before it is listed, in ``folders``.

    The walk goes by descriptor, as :func:`os.fwalk` does: each folder is opened
    relative to its parent's descriptor with ``O_NOFOLLOW``, then ``fstat``-ed and
    listed through that descriptor.  A folder swapped for a link (or a file)
    between its parent's listing and its own open is listed as a file, as a
    listing taken a moment later would show it (reading it reports the link),
    and nothing it points to is ever listed or stat-ed.  Links to folders are
    listed, not entered (as git lists them).  An unreadable folder is skipped, as
    :func:`os.walk` does.  At most :data:`~cfgc.base.limits.MAX_REPO_DEPTH` + 1
    descriptors are open at once (one per level).
    """
    try:
        fd = os.open(root, _DIR_FLAGS)  # the root is the user's own (resolved) path
    except OSError as err:
        if err.errno in _SKIPPED or err.errno == errno.ENOTDIR:
            return
        raise _cannot_list("", err) from None
    try:
        _scan(fd, "", out, folders)
    finally:
        os.close(fd)


def _scan(fd: int, prefix: str, out: list[str], folders: dict[str, os.stat_result]) -> None:
    if prefix.count("/") > limits.MAX_REPO_DEPTH:
        raise InputError(f"folders nest more than {limits.MAX_REPO_DEPTH} levels deep, the bound on one listing; "
                         + _RAISE.format(name="MAX_REPO_DEPTH"), Location(prefix.rstrip("/")))
    try:
        folders[prefix] = os.fstat(fd)
        room = limits.MAX_REPO_FILES - len(out) - len(folders) + 1
        with os.scandir(fd) as it:
            entries = list(islice(it, room + 1))  # never more than one past the bound
    except OSError as err:
        if err.errno in _SKIPPED:  # an unreadable folder is skipped, as os.walk did
            return
        raise _cannot_list(prefix.rstrip("/"), err) from None
    if len(entries) > room:
        raise too_many(prefix.rstrip("/"))
    # A name is at most 255 bytes (NAME_MAX) of at most 4 bytes per character in
    # its str form: only a folder whose own path is long has its names measured.
    measure = len(prefix) * 4 + 1020 > limits.MAX_PATH_BYTES
    for e in entries:
        name = e.name
        if measure and len(os.fsencode(prefix + name)) > limits.MAX_PATH_BYTES:
            raise path_too_long(prefix + name)
        if e.is_dir(follow_symlinks=False):
            if name not in SKIP_DIRS:
                try:
                    child = os.open(name, _SUB_FLAGS, dir_fd=fd)
                except OSError as err:
                    if err.errno in (errno.ELOOP, errno.ENOTDIR):  # now a link or a file: list it as one
                        out.append(prefix + name)
                    elif err.errno in _SKIPPED:  # gone or unreadable: skipped, as os.walk does
                        _unreadable(fd, name, prefix + name + "/", folders)
                    else:
                        raise _cannot_list(prefix + name, err) from None
                    continue
                try:
                    _scan(child, prefix + name + "/", out, folders)
                finally:
                    os.close(child)
        else:
            out.append(prefix + name)


def _unreadable(parent: int, name: str, prefix: str, folders: dict[str, os.stat_result]) -> None:
    # Its stat is still noted (as the walk by path did): a chmod that makes it
    # readable changes that stat, so an in-place build lists the folder again.
    with contextlib.suppress(OSError):
        st = os.stat(name, dir_fd=parent, follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            folders[prefix] = st


def ls_tree(git_dir: str, tree_id: str) -> bytes:
    """``git ls-tree -r -z`` of ``tree_id``, read as it comes and stopped past a bound."""
    # Imported here: a working tree's listing starts no process (about 3 ms of imports).
    import select
    import subprocess

    # Generous per entry: mode, type, a sha-256 id, a tab and a NUL around the path.
    entry_max = limits.MAX_PATH_BYTES + 100
    try:
        proc = subprocess.Popen(
            ["git", "-C", git_dir, "ls-tree", "-r", "-z", "--full-tree", tree_id],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,  # unread, a stderr pipe could fill and stall git
        )
    except OSError as e:
        raise ExternalError(f"git ls-tree failed: {e}") from None
    assert proc.stdout is not None
    chunks: list[bytes] = []
    entries = 0
    size = 0
    tail = 0  # bytes since the last NUL: the entry being read
    deadline = time.monotonic() + limits.LISTING_SECONDS
    fd = proc.stdout.fileno()
    ready = select.poll()  # poll, not select: a process with over 1,024 descriptors open
    ready.register(fd, select.POLLIN)
    try:
        while True:
            # A git that stalls with its output open must not hold the build forever.
            left = deadline - time.monotonic()
            if left <= 0 or not ready.poll(left * 1000):
                raise subprocess.TimeoutExpired(proc.args, limits.LISTING_SECONDS)
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            size += len(chunk)
            if size > limits.MAX_LISTING_BYTES:
                raise InputError(f"the git tree listing is over {limits.MAX_LISTING_BYTES} bytes, the bound on one "
                                 "listing (MAX_LISTING_BYTES)")
            chunks.append(chunk)
            ends = chunk.count(b"\0")
            entries += ends
            if entries > limits.MAX_REPO_FILES:
                raise too_many(".")
            # The entry that runs on from the last chunk: never held past the bound.  An
            # entry that starts and ends within one chunk is checked by the caller's parse.
            if tail + (chunk.find(b"\0") if ends else len(chunk)) > entry_max:
                raise path_too_long(".")
            tail = len(chunk) - 1 - chunk.rfind(b"\0") if ends else tail + len(chunk)
        if (code := proc.wait(timeout=max(1.0, deadline - time.monotonic()))) != 0:
            raise ExternalError(f"git ls-tree failed: exit status {code}")
    except subprocess.TimeoutExpired:
        raise ExternalError(f"git ls-tree failed: timed out after {limits.LISTING_SECONDS} s") from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    return b"".join(chunks)
