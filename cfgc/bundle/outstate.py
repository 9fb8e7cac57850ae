"""The stat index of a bundle directory: what the last build into ``OUT`` read and wrote.

Kept in the build cache (``outs/<digest of OUT's path>``), authenticated with
the cache's key like its index (:mod:`cfgc.bundle.cache_index`), so a state
that cfgc did not write is never used.  It is git's index for ``cfgc build``:

- ``files``: each layer file's stat stamp and sha256, so an unchanged file is
  neither read nor hashed (a stamp taken within :data:`RACY_NS` of its last
  change is left empty: such a file may change again without its stat
  changing, so it is hashed every time);
- ``targets``: each target's layers (indices into ``paths``): which targets a
  changed file reaches;
- ``globals``: sha256 of every other file a target depends on (cfgc.yaml,
  schemas, prompts, SOPS files and rules): a change to one means a full build;
- ``listing``: digest of the repo's file list; another list means a full build.
  ``folders`` holds each repo folder's stat from just before it was listed and
  ``entries`` a digest of what it held: while no folder's stat changed, the list
  is the same and the repo is not walked again; a folder whose stat changed
  (a file saved by rename, a bundle folder when ``OUT`` is inside the repo) is
  listed alone and compared with its digest;
- ``bundle`` / ``dirs``: the stat stamp of every file and folder in ``OUT``
  as written, so checking that ``OUT`` is still what cfgc wrote costs a stat
  per file (a file whose stamp differs is hashed against the manifest);
- ``spans``: where the ``source`` section and each target's entry lie in
  ``manifest.json`` (:mod:`cfgc.bundle.splice`), so an update patches its
  bytes instead of parsing and encoding 3 MB at 10,000 targets.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import importlib.util
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from cfgc import __version__

MAGIC = b"cfgc-out-state 3\n"
MAX_STATE_BYTES = 512 * 1024 * 1024  # about 1,000,000 targets; a bigger file is not ours
RACY_NS = 2_000_000_000  # as the build cache: a change this recent may repeat with the same stat
# Libraries whose behaviour shapes a target's bytes or findings: their installed files' stats.
_LIBRARIES = ("yaml", "jinja2", "jsonschema_rs", "jsonschema", "orjson", "yaml_rs")


def stamp(st: os.stat_result, racy_after: int | None = None) -> str:
    """A file's stat stamp, or "" when it changed after ``racy_after`` (too recently to be trusted by stat)."""
    if racy_after is not None and max(st.st_mtime_ns, st.st_ctime_ns) >= racy_after:
        return ""
    return f"{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_size}:{st.st_ino}"


# For OUT's files cfgc wrote itself: on a file system with sub-second timestamps
# a write after the stat shows within a few clock ticks, so only the files written
# in the last moment are hashed again; with whole-second timestamps RACY_NS applies.
FINE_RACY_NS = 50_000_000


def out_stamp(st: os.stat_result, now: int) -> str:
    """The stamp of a file cfgc just wrote into OUT ("" when it could still change unseen)."""
    fine = st.st_mtime_ns % 1_000_000_000 or st.st_ctime_ns % 1_000_000_000
    return stamp(st, now - (FINE_RACY_NS if fine else RACY_NS))


def racy_after() -> int:
    """Stamps of files changed after this instant (ns) are not kept."""
    import time

    return time.time_ns() - RACY_NS


def toolchain() -> str:
    """cfgc, Python and the installed libraries that shape outputs, without importing them."""
    parts = [f"cfgc {__version__}", f"python {sys.version}"]
    for name in _LIBRARIES:
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec is not None else None
        if origin and os.path.exists(origin):
            st = os.stat(origin)
            parts.append(f"{name} {origin} {st.st_size} {st.st_mtime_ns}")
    return "\n".join(parts)


def listing_digest(files: list[str]) -> str:
    """Digest of a repo's sorted file list."""
    return hashlib.sha256("\0".join(files).encode("utf-8", "surrogateescape")).hexdigest()


@dataclass(frozen=True)
class OutState:
    """What the last build into one ``OUT`` read and wrote (see the module docstring)."""

    out: str
    root: str
    select: str | None
    toolchain: str
    listing: str
    listed: list[str]  # the repo's file list itself, sorted (its digest is listing)
    folders: dict[str, str]  # repo folder -> stat stamp taken before it was listed ("" = list it)
    entries: dict[str, str]  # repo folder -> digest of its entries (folder_digest)
    source: dict[str, Any]  # the manifest's "source" section
    varnames: list[str]
    globals: dict[str, str]  # path -> sha256 hex
    paths: list[str]
    files: list[list[str]]  # parallel to paths: [stamp, sha256 hex]
    targets: dict[str, list[int]]  # name -> indices into paths (its layers, lowest first)
    warned: list[str]  # targets with warnings: compiled every time, as the cache does
    manifest: str  # sha256:<hex> of OUT/manifest.json
    bundle: dict[str, str]  # bundle path -> stat stamp ("" = hash it)
    dirs: dict[str, int]  # folder of OUT ("" = OUT) -> mtime_ns (-1 = list it)
    spans: list[int]  # where source and each entry lie in manifest.json (cfgc.bundle.splice); [] = unknown

    def to_json(self) -> dict[str, Any]:
        """The state as a JSON object."""
        return dict(self.__dict__)


def state_path(cache_root: Path, out: Path) -> Path:
    """Where the state of ``out`` lives in the cache ``cache_root``."""
    return cache_root / "outs" / hashlib.sha256(os.fsencode(str(out))).hexdigest()[:24]


def load(cache_root: Path, out: Path, key: bytes) -> OutState | None:
    """The authenticated state of ``out``, or None (missing, another version, not cfgc's)."""
    path = state_path(cache_root, out)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        data = os.read(fd, MAX_STATE_BYTES + 1)
        while True:  # os.read returns at most 2 GB and may return less
            more = os.read(fd, MAX_STATE_BYTES + 1 - len(data))
            if not more:
                break
            data += more
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(data) > MAX_STATE_BYTES or not data.startswith(MAGIC):
        return None
    mac, sep, body = data[len(MAGIC) :].partition(b"\n")
    if not sep or not hmac.compare_digest(mac, hmac.new(key, body, hashlib.sha256).hexdigest().encode()):
        return None
    try:
        doc = orjson.loads(body)
        state = OutState(**doc)
    except (ValueError, TypeError):
        return None
    return state if _well_formed(state) else None


def _well_formed(s: OutState) -> bool:
    # Authenticated, so written by cfgc: still, never let a shape error become a
    # crash (layer indices are checked where they are used).
    return (
        isinstance(s.paths, list)
        and isinstance(s.files, list)
        and len(s.paths) == len(s.files)
        and isinstance(s.targets, dict)
        and isinstance(s.bundle, dict)
        and isinstance(s.dirs, dict)
        and isinstance(s.globals, dict)
        and isinstance(s.folders, dict)
        and isinstance(s.warned, list)
        and isinstance(s.varnames, list)
        and isinstance(s.spans, list)
        and isinstance(s.listed, list)
        and isinstance(s.entries, dict)
        and (not s.spans or len(s.spans) == 2 + 2 * len(s.targets))
    )


# States kept per cache: one per --out directory, the least recently written go first.
MAX_STATES = 8


def save(cache_root: Path, out: Path, key: bytes, state: OutState) -> None:
    """Write the state of ``out`` (atomically); an unwritable cache only costs speed.

    At most :data:`MAX_STATES` are kept: builds into ever new directories
    (CI workspaces) do not fill the cache.
    """
    path = state_path(cache_root, out)
    body = orjson.dumps(state.to_json())
    data = MAGIC + hmac.new(key, body, hashlib.sha256).hexdigest().encode() + b"\n" + body
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".state.")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        _prune(path.parent)
    except OSError:
        forget(cache_root, out)


def _prune(folder: Path) -> None:
    entries = []
    for e in os.scandir(folder):
        with contextlib.suppress(OSError):
            entries.append((e.stat(follow_symlinks=False).st_mtime_ns, e.path))
    for _, path in sorted(entries, reverse=True)[MAX_STATES:]:
        with contextlib.suppress(OSError):
            os.unlink(path)


def forget(cache_root: Path, out: Path) -> None:
    """Drop the state of ``out`` (the next build into it writes it whole)."""
    with contextlib.suppress(OSError):
        os.unlink(state_path(cache_root, out))


def scan_out(out: Path, now: int) -> tuple[dict[str, str], dict[str, int]]:
    """The stamps of every file and folder in a bundle directory just written (``now``: time_ns)."""
    files: dict[str, str] = {}
    dirs: dict[str, int] = {}
    root = str(out)
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root).replace(os.sep, "/")
        rel = "" if rel == "." else rel
        dirs[rel] = dir_stamp(os.stat(dirpath), now)
        for name in filenames:
            p = f"{rel}/{name}" if rel else name
            files[p] = out_stamp(os.stat(os.path.join(dirpath, name), follow_symlinks=False), now)
        dirnames.sort()
    return files, dirs


def own_names(out: Path) -> frozenset[str]:
    """What cfgc keeps beside ``OUT`` only while a build holds its lock: its lock file and commit folder.

    Left out of the entries of ``OUT``'s parent folder: a build lists the repo
    before it takes the lock, an in-place build under it.  A layer may never be
    one of them (:func:`cfgc.bundle.stage.refuse_own_files`).
    """
    return frozenset((f".{out.name}.lock", f".{out.name}.commit", f".{out.name}.commit/"))


def folder_digest(names: list[str], ignore: frozenset[str] = frozenset()) -> str:
    """Digest of one folder's entries (:func:`cfgc.repo.sources.folder_entries`), ``ignore`` left out."""
    kept = sorted(n for n in names if n not in ignore)
    return hashlib.sha256("\0".join(kept).encode("utf-8", "surrogateescape")).hexdigest()


def listed_entries(files: list[str], folders: list[str], out: Path, root: Path) -> dict[str, str]:
    """Each listed folder's :func:`folder_digest`, from a repo listing (``files``) and its folders."""
    children: dict[str, list[str]] = {rel: [] for rel in folders}
    for f in files:
        parent, _, name = f.rpartition("/")
        children.setdefault(parent + "/" if parent else "", []).append(name)
    for rel in folders:
        if rel:
            parent, _, name = rel[:-1].rpartition("/")
            children.setdefault(parent + "/" if parent else "", []).append(name + "/")
    beside = out_parent(out, root)
    own = own_names(out)
    return {rel: folder_digest(names, own if rel == beside else frozenset()) for rel, names in children.items()}


def out_parent(out: Path, root: Path) -> str | None:
    """The repo folder (``a/b/``, ``""`` the root) that holds ``OUT``, or None when it is outside the repo."""
    rel = os.path.relpath(out.parent, root).replace(os.sep, "/")
    if rel == ".":
        return ""
    return None if rel == ".." or rel.startswith("../") else rel + "/"


def folder_stamp(st: os.stat_result, racy_after: int | None = None) -> str:
    """A repo folder's stamp (its entries change its mtime and ctime), "" when too recent."""
    if racy_after is not None and max(st.st_mtime_ns, st.st_ctime_ns) >= racy_after:
        return ""
    return f"{st.st_mtime_ns}:{st.st_ctime_ns}"


def dir_stamp(st: os.stat_result, now: int) -> int:
    """A folder of OUT's mtime, or -1 when it changed too recently (list it next time)."""
    return st.st_mtime_ns if out_stamp(st, now) else -1
