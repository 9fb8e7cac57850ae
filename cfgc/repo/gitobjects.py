"""A commit's ids and its files' bytes from git itself, without GitPython.

Importing GitPython costs about 50–70 ms of CPU, more than a diff whose
targets all come from records spends on its git side: resolving the ref and
reading the few files every diff reads (cfgc.yaml, schemas, prompts) takes
one ``git rev-parse`` and one ``git cat-file --batch`` process instead.
GitPython stays for what only it offers here (a commit's metadata, remotes,
and the hints of an unknown-revision error).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import IO

from cfgc.base.errors import ExternalError

_OID = re.compile(rb"[0-9a-f]{40}([0-9a-f]{24})?")
_TIMEOUT = 600


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
            header = stdout.readline().split()
            if len(header) != 3 or header[1] != b"blob":
                raise ExternalError(f"git cat-file: no blob {oid}")
            data = _read_exactly(stdout, int(header[2]) + 1)
        except (OSError, ValueError) as e:
            self.close()
            raise ExternalError(f"git cat-file failed: {e}") from None
        return data[:-1]  # (the newline after the object)

    def close(self) -> None:
        """Stop the process (a later read starts another)."""
        proc, self._proc = self._proc, None
        if proc is not None and self._pid == os.getpid():
            for f in (proc.stdin, proc.stdout):
                if f is not None:
                    f.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _read_exactly(f: IO[bytes], n: int) -> bytes:
    parts = []
    while n > 0:
        chunk = f.read(n)
        if not chunk:
            raise ValueError("git cat-file: output cut short")
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)
