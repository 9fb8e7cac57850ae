"""Working-tree blob ids from git's index, instead of reading every file.

:func:`cfgc.review.diff.changed_files` compares the two sides by git blob id;
for the working tree it used to read and hash every file (about 0.3 s for
10,000 files).  Git's index already holds each tracked file's blob id and the
stat data of the file it was taken from, and ``git diff-files`` names every
file whose stat data no longer matches (or whose content git had to re-check
because it changed in the same instant the index was written): a file it
does not name still holds the bytes of its index entry.  So an index entry is
taken only when all of these hold, and the file is read and hashed otherwise:

- ``git diff-files`` (finished before ``git ls-files`` starts, so an index
  written meanwhile is seen at its newer state) does not name the file;
- the entry is a plain file (mode 100644 or 100755) at stage 0, tagged ``H``
  by ``git ls-files -v`` (not assume-unchanged, not skip-worktree: git does
  not look at those files), and not the empty blob (an intent-to-add entry);
- git stores what is in the file: nothing can convert the bytes between the
  working tree and the blob.  No ``filter.*`` driver is configured, no
  ``core.autocrlf``/``core.eol``/``core.attributesFile``, no file-system
  monitor or relaxed stat checks (``core.fsmonitor``, ``core.checkStat``,
  ``core.trustctime``, ``core.ignoreStat``); no attributes file exists that
  git would read (a ``.gitattributes`` in the index, in the listed tree or in a
  folder above it, ``info/attributes``, the user's and the system's).  Any of
  those and no entry is taken.

Every git failure takes no entry: the files are hashed as before.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Collection
from pathlib import Path

_EMPTY_BLOB = b"e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
# One entry of `ls-files -s -v -z`: tag H, a plain file, its blob id, stage 0, its path.
_ENTRY = re.compile(rb"(?:^|(?<=\0))H 100(?:644|755) ([0-9a-f]{40}) 0\t([^\0]+)")
_CONFIG = r"^(filter\..*|core\.(autocrlf|eol|attributesfile|fsmonitor|checkstat|trustctime|ignorestat))$"
_HARMLESS = frozenset({"core.autocrlf false", "core.fsmonitor false", "core.checkstat default",
                       "core.trustctime true", "core.ignorestat false"})
_TIMEOUT = 60


def index_ids(root: Path, files: Collection[str]) -> dict[str, str]:
    """The blob id git's index vouches for, of each of ``files`` (paths under
    ``root``) it can; see the module docstring for when it can."""
    try:
        return _index_ids(root, files)
    except (OSError, subprocess.SubprocessError, UnicodeDecodeError, ValueError):
        return {}


def _start(root: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["git", "-C", str(root), *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def _finish(proc: subprocess.Popen[bytes], ok: tuple[int, ...] = (0,)) -> bytes:
    try:
        out, _ = proc.communicate(timeout=_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    if proc.returncode not in ok:
        raise subprocess.SubprocessError("git failed")
    return out


def _git(root: Path, *args: str) -> bytes:
    return _finish(_start(root, *args))


def _index_ids(root: Path, files: Collection[str]) -> dict[str, str]:
    # The checks run side by side: each git process costs a few ms to start.
    # diff-files runs beside them (its answer is used only if they pass), and
    # before ls-files: an index written after it only vouches for newer bytes.
    checks = [_start(root, "config", "--get-regexp", _CONFIG),
              _start(root, "ls-files", "-z", "--", ":(top,glob)**/.gitattributes"),
              _start(root, "rev-parse", "--show-toplevel", "--git-path", "info/attributes"),
              _start(root, "diff-files", "--name-only", "-z", "--relative")]
    try:
        config, in_index, paths = (_finish(checks[0], ok=(0, 1)), _finish(checks[1]), _finish(checks[2]))
        if any(line.strip().lower() not in _HARMLESS for line in config.decode().splitlines() if line.strip()):
            return {}
        if in_index.strip(b"\0") or not _no_attributes(root, files, paths.decode().splitlines()):
            return {}
        dirty = set(os.fsdecode(p) for p in _finish(checks[3]).split(b"\0"))
    finally:
        for proc in checks:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    listing = _git(root, "ls-files", "-s", "-v", "-z")
    # Tag H (neither assume-unchanged nor skip-worktree), a plain file, stage 0.
    enc, errors = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()  # os.fsdecode's, without its call
    return {path: sha.decode("ascii") for sha, path in
            ((m[1], m[2].decode(enc, errors)) for m in _ENTRY.finditer(listing))
            if sha != _EMPTY_BLOB and path not in dirty}


def _no_attributes(root: Path, files: Collection[str], paths: list[str]) -> bool:
    """Whether no gitattributes file exists that git could read for these files
    (those in the index were looked for by the caller)."""
    if any(p == ".gitattributes" or p.endswith("/.gitattributes") for p in files):
        return False
    top, info = paths[:2]
    folder = root.resolve()
    toplevel = Path(top).resolve()
    candidates = [Path(info) if os.path.isabs(info) else root / info]
    while folder != toplevel and toplevel in folder.parents:
        folder = folder.parent
        candidates.append(folder / ".gitattributes")
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    candidates.append(Path(xdg) / "git" / "attributes")
    if not os.environ.get("GIT_ATTR_NOSYSTEM"):
        found = shutil.which("git")
        prefix = Path(os.path.realpath(found)).parent.parent if found else Path("/usr")  # <prefix>/bin/git
        candidates += [Path("/etc/gitattributes"), prefix / "etc" / "gitattributes"]
    return not any(c.exists() for c in candidates)
