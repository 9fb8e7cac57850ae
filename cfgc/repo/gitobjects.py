"""A commit's ids and its files' bytes from git itself, without GitPython.

Importing GitPython costs about 50–70 ms of CPU, more than a diff whose
targets all come from records spends on its git side: resolving the ref and
reading the few files every diff reads (cfgc.yaml, schemas, prompts) takes
one ``git rev-parse`` and one ``git cat-file --batch`` process instead.
GitPython stays for what only it offers here (a commit's metadata, remotes,
and the hints of an unknown-revision error).
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import weakref
from pathlib import Path
from typing import IO

from cfgc.base.errors import ExternalError
from cfgc.base.limits import MAX_FILE_BYTES

_OID = re.compile(rb"[0-9a-f]{40}([0-9a-f]{24})?")
_TIMEOUT = 600
# A file cfgc reads from git (a layer, a schema, a prompt) is held whole in
# memory; a blob a pull request commits may be of any size, so its header is
# checked before a byte of it is read.  The one bound of every file cfgc reads.
MAX_BLOB_BYTES = MAX_FILE_BYTES


class BlobTooLarge(ValueError):
    """A blob over :data:`MAX_BLOB_BYTES` (the caller names the file)."""

    def __init__(self, size: int, oid: str) -> None:
        super().__init__(f"{size} bytes, over the limit of {MAX_BLOB_BYTES} bytes for a file read from git")
        self.size = size
        self.oid = oid


def blob_header(line: bytes, oid: str) -> int:
    """The size of the blob ``oid`` from ``git cat-file --batch``'s header line.

    The header must name that very object and say it is a blob: a tree entry's
    mode says "file", but the object it names can be a commit or a tree
    (``hash-object --literally``, no fsck), and a reply for another object
    would shift every later answer of the same process by one.
    """
    header = line.split()
    if len(header) != 3 or header[0] != oid.encode("ascii") or header[1] != b"blob" or not header[2].isdigit():
        raise ExternalError(f"git cat-file: {oid} is not a blob ({line[:80].decode('ascii', 'replace').strip()})")
    size = int(header[2])
    if size > MAX_BLOB_BYTES:
        raise BlobTooLarge(size, oid)
    return size


_OPEN: weakref.WeakSet[CatFile] = weakref.WeakSet()


def _forget_in_child() -> None:
    # A forked child holds the parent's pipe ends too: while it lives, the
    # parent's close() would not give cat-file its end of input.  The child
    # closes its copies (and starts its own process if it reads).
    for cat in list(_OPEN):
        cat.drop_inherited()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)


def resolve(root: Path, ref: str) -> tuple[str, str, str, str] | None:
    """``(top level, git dir, commit id, id of the tree at root)`` for ``ref``,
    or None for anything but the plain case (not a repository, an unknown
    ref, a folder the commit lacks, a ref that reads as an option, a bare
    repository): the caller then takes GitPython's path, whose errors say which."""
    if ref.startswith("-") or "\n" in ref:
        return None
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--show-toplevel", "--absolute-git-dir",
             f"{ref}^{{commit}}", f"{ref}:./"],
            capture_output=True, timeout=_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = done.stdout.split(b"\n")
    if done.returncode != 0 or len(lines) != 5 or lines[4] or not all(_OID.fullmatch(x) for x in lines[2:4]):
        return None
    top, git_dir, commit, tree = (os.fsdecode(x) for x in lines[:4])
    return top, git_dir, commit, tree


class CatFile:
    """One ``git cat-file --batch`` process per process: a forked worker that
    read through its parent's would interleave requests with its siblings'."""

    def __init__(self, git_dir: str) -> None:
        self.git_dir = git_dir
        self._proc: subprocess.Popen[bytes] | None = None
        self._pid = 0
        _OPEN.add(self)

    def drop_inherited(self) -> None:
        """In a forked child: close the parent's pipe ends without waiting for its process."""
        proc, self._proc = self._proc, None
        if proc is not None and self._pid != os.getpid():
            _close_pipes(proc)

    def read(self, oid: str) -> bytes:
        """The bytes of the blob ``oid``."""
        if self._proc is None or self._pid != os.getpid():
            self._proc = None  # (a parent's: left to the parent)
            try:
                self._proc = subprocess.Popen(["git", "-C", self.git_dir, "cat-file", "--batch"],
                                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            except OSError as e:
                raise ExternalError(f"git cat-file failed: {e}") from None
            self._pid = os.getpid()
        stdin, stdout = self._proc.stdin, self._proc.stdout
        assert stdin is not None and stdout is not None
        try:
            stdin.write(oid.encode("ascii") + b"\n")
            stdin.flush()
            try:
                size = blob_header(stdout.readline(), oid)
            except ExternalError:
                self.close()  # the object's body is still in the pipe: the next read starts afresh
                raise
            data = _read_exactly(stdout, size + 1)
        except BlobTooLarge:
            self.close()
            raise
        except (OSError, ValueError) as e:
            self.close()
            raise ExternalError(f"git cat-file failed: {e}") from None
        return data[:-1]  # (the newline after the object)

    def __del__(self) -> None:
        # A source dropped without close(): git exits at the end of its input, and
        # subprocess reaps it later.  Left open, the pipes kept both the process
        # and two descriptors alive for the rest of the process (Popen objects of
        # running children are held by the subprocess module).
        proc = self._proc
        if proc is not None and self._pid == os.getpid():
            _close_pipes(proc)

    def close(self) -> None:
        """Stop the process (a later read starts another)."""
        proc, self._proc = self._proc, None
        if proc is not None and self._pid == os.getpid():
            _close_pipes(proc)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _close_pipes(proc: subprocess.Popen[bytes]) -> None:
    for f in (proc.stdin, proc.stdout):
        if f is not None:
            with contextlib.suppress(OSError):
                f.close()


def read_batch(git_dir: str, oids: list[str]) -> list[bytes]:
    """The bytes of each blob of ``oids`` from one ``git cat-file --batch``.

    Each header is checked (:func:`blob_header`) before its body is read, so a
    blob over :data:`MAX_BLOB_BYTES` is refused without being held.
    """
    import threading

    try:
        proc = subprocess.Popen(["git", "-C", git_dir, "cat-file", "--batch"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    except OSError as e:
        raise ExternalError(f"git cat-file failed: {e}") from None
    stdin, stdout = proc.stdin, proc.stdout
    assert stdin is not None and stdout is not None
    request = "".join(f"{oid}\n" for oid in oids).encode("ascii")

    def feed() -> None:  # a thread: cat-file answers while it is still being asked
        try:
            stdin.write(request)
            stdin.close()
        except OSError:
            pass  # it stopped reading: the reader sees why

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    out: list[bytes] = []
    try:
        for oid in oids:
            size = blob_header(stdout.readline(), oid)
            out.append(_read_exactly(stdout, size + 1)[:-1])
    except ValueError as e:
        if isinstance(e, BlobTooLarge):
            raise
        raise ExternalError(f"git cat-file failed: {e}") from None
    finally:
        if proc.poll() is None and len(out) < len(oids):
            proc.kill()
        stdout.close()
        writer.join(timeout=10)
        proc.wait()
    return out


def _read_exactly(f: IO[bytes], n: int) -> bytes:
    parts = []
    while n > 0:
        chunk = f.read(n)
        if not chunk:
            raise ValueError("git cat-file: output cut short")
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)
