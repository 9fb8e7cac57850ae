"""Working-tree blob ids from git's index, instead of reading every file.

:func:`cfgc.review.diff.changed_files` compares the two sides by git blob id;
for the working tree it used to read and hash every file (about 0.3 s for
10,000 files).  Git's index already holds each tracked file's blob id and the
stat data of the file it was taken from, and ``git diff-files`` names every
file whose stat data no longer matches (or whose content git had to re-check
because it changed in the same instant the index was written): a file it
does not name still holds the bytes of its index entry.  So an index entry is
taken only when all of these hold, and the file is read and hashed otherwise:

- ``git diff-files`` (run first, so an index written meanwhile is seen at
  its newer state) does not name the file;
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
import subprocess
from collections.abc import Collection
from pathlib import Path

_EMPTY_BLOB = "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
_PLAIN_MODES = frozenset({"100644", "100755"})
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


def _git(root: Path, *args: str, ok: tuple[int, ...] = (0,)) -> bytes:
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, timeout=_TIMEOUT, check=False)
    if done.returncode not in ok:
        raise subprocess.SubprocessError(f"git {args[0]} failed")
    return done.stdout


def _index_ids(root: Path, files: Collection[str]) -> dict[str, str]:
    config = _git(root, "config", "--get-regexp", _CONFIG, ok=(0, 1)).decode()
    if any(line.strip().lower() not in _HARMLESS for line in config.splitlines() if line.strip()):
        return {}
    if not _no_attributes(root, files):
        return {}
    # diff-files first: an index written after it only vouches for newer bytes.
    dirty = set(os.fsdecode(p) for p in _git(root, "diff-files", "--name-only", "-z", "--relative").split(b"\0"))
    out: dict[str, str] = {}
    for entry in _git(root, "ls-files", "-s", "-v", "-z").split(b"\0"):
        meta, tab, name = entry.partition(b"\t")
        if not tab:
            continue
        tag, mode, sha, stage = meta.decode("ascii").split(" ")
        path = os.fsdecode(name)
        if tag == "H" and stage == "0" and mode in _PLAIN_MODES and sha != _EMPTY_BLOB and path not in dirty:
            out[path] = sha
    return out


def _no_attributes(root: Path, files: Collection[str]) -> bool:
    """Whether no gitattributes file exists that git could read for these files."""
    if any(p == ".gitattributes" or p.endswith("/.gitattributes") for p in files):
        return False
    if _git(root, "ls-files", "-z", "--", ":(top,glob)**/.gitattributes").strip(b"\0"):
        return False
    top, info, exec_path = _git(root, "rev-parse", "--show-toplevel", "--git-path", "info/attributes").decode(
        ).splitlines()[:2] + [_git(root, "--exec-path").decode().strip()]
    folder = root.resolve()
    toplevel = Path(top).resolve()
    candidates = [Path(info) if os.path.isabs(info) else root / info]
    while folder != toplevel and toplevel in folder.parents:
        folder = folder.parent
        candidates.append(folder / ".gitattributes")
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    candidates.append(Path(xdg) / "git" / "attributes")
    if not os.environ.get("GIT_ATTR_NOSYSTEM"):
        prefix = Path(exec_path).parent.parent  # <prefix>/lib(exec)/git-core
        candidates += [Path("/etc/gitattributes"), prefix / "etc" / "gitattributes"]
    return not any(c.exists() for c in candidates)
