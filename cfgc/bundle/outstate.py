"""The stat index of a bundle directory: what the last build into ``OUT`` read and wrote.

Kept in the build cache (``outs/<digest of OUT's path>``), authenticated with
the cache's key (:func:`cfgc.bundle.cache_index.cache_key`, as keyed BLAKE2b)
before any byte of it is parsed, so a state that cfgc did not write is never used.  It is git's index for ``cfgc build``:

- ``stamps`` / ``digests``: each layer file's stat stamp and sha256, so an unchanged file is
  neither read nor hashed (a stamp taken within :data:`RACY_NS` of its last
  change is left empty: such a file may change again without its stat
  changing, so it is hashed every time);
- ``names`` / ``counts`` / ``layers``: each target's layers (indices into
  ``paths``): which targets a changed file reaches (:meth:`OutState.reach`);
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

On disk it is a JSON head and packed numbers (:mod:`cfgc.bundle.outpack`).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import sys
from array import array
from collections.abc import Collection
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

from cfgc import __version__
from cfgc.base.installed import install_stamps
from cfgc.base.interrupts import temp_file
from cfgc.bundle import outmac, outpatch
from cfgc.bundle.outpack import Packed, ints, pack, reach, target_files, unpack

MAGIC = b"cfgc-out-state 9\n"
MAX_STATE_BYTES = 512 * 1024 * 1024  # about 1,000,000 targets; a bigger file is not ours
RACY_NS = 2_000_000_000  # as the build cache: a change this recent may repeat with the same stat
# Libraries whose behaviour shapes a target's bytes or findings: their installed files' stats.
_LIBRARIES = ("yaml", "jinja2", "jsonschema_rs", "jsonschema", "orjson", "yaml_rs")


Stamp = tuple[int, int, int, int]
NO_STAMP: Stamp = (-1, -1, -1, -1)  # matches no stat: the file is hashed every time


def stamp(st: os.stat_result, racy_after: int | None = None) -> Stamp:
    """A file's stat stamp, or :data:`NO_STAMP` when it changed after ``racy_after`` (too recently to trust)."""
    if racy_after is not None and max(st.st_mtime_ns, st.st_ctime_ns) >= racy_after:
        return NO_STAMP
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)


def parse_stamp(text: str) -> Stamp:
    """A stamp from the build cache's text form (``mtime:ctime:size:ino``, "" for none)."""
    if not text:
        return NO_STAMP
    m, c, size, ino = map(int, text.split(":"))
    return (m, c, size, ino)


# For OUT's files cfgc wrote itself: on a file system with sub-second timestamps
# a write after the stat shows within a few clock ticks, so only the files written
# in the last moment are hashed again; with whole-second timestamps RACY_NS applies.
FINE_RACY_NS = 50_000_000


def out_stamp(st: os.stat_result, now: int) -> Stamp:
    """The stamp of a file cfgc just wrote into OUT (:data:`NO_STAMP` when it could still change unseen)."""
    fine = st.st_mtime_ns % 1_000_000_000 or st.st_ctime_ns % 1_000_000_000
    return stamp(st, now - (FINE_RACY_NS if fine else RACY_NS))


def racy_after() -> int:
    """Stamps of files changed after this instant (ns) are not kept."""
    import time

    return time.time_ns() - RACY_NS


def toolchain() -> str:
    """cfgc, Python and the installed libraries that shape outputs, without importing them."""
    return "\n".join([f"cfgc {__version__}", f"python {sys.version}", *install_stamps(tuple(_LIBRARIES))])


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
    stamps: array[int]  # parallel to paths, STAMP integers each (NO_STAMP = hash it)
    digests: bytes  # parallel to paths: sha256, DIGEST_BYTES each
    names: list[str]  # the targets, sorted (the manifest's order)
    counts: array[int]  # parallel to names: how many layers each has
    layers: array[int]  # indices into paths: each target's layers in turn, lowest first
    warned: list[str]  # targets with warnings: compiled every time, as the cache does
    manifest: str  # sha256:<hex> of OUT/manifest.json
    bundle: list[str]  # OUT's files: target_files(names), then the others
    bundle_stamps: array[int]  # parallel to bundle, STAMP integers each (NO_STAMP = hash it)
    dirs: dict[str, int]  # folder of OUT ("" = OUT) -> mtime_ns (-1 = list it)
    spans: array[int]  # where source and each entry lie in manifest.json (cfgc.bundle.splice); empty = unknown
    pins: dict[str, str]  # prompt ranges in-place builds resolved (PromptLibrary.pins): the prompt files are globals
    sops: dict[str, Any] = field(default_factory=dict)  # sha256 hex of .sops.yaml's bytes (a global) -> its parsed value (creation_rules.PARSED)
    config_marks: dict[str, Any] = field(default_factory=dict)  # sha256 hex of cfgc.yaml's bytes (a global) -> its source positions (config.MARKS)
    careful: dict[str, Any] = field(default_factory=dict)  # sha256 hex of a file's text -> what the careful YAML path built (loading.CAREFUL)
    renders: dict[str, Any] = field(default_factory=dict)  # template reads and results an in-place build kept (template_kept.KEPT)

    def to_json(self) -> dict[str, Any]:
        """The state's fields by name."""
        return dict(self.__dict__)

    def reach(self, changed: set[int], also: Collection[str] = ()) -> dict[str, array[int]]:
        """The targets with a layer in ``changed`` or named in ``also``, with their layers (in name order)."""
        return reach(self.names, self.counts, self.layers, changed, also)


# Written as packed numbers by cfgc.bundle.outpack, not in the JSON head.
PACKED = ("paths", "stamps", "digests", "bundle", "bundle_stamps", "spans", "counts", "layers")


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
        st = os.fstat(fd)
        size = st.st_size
        if size > MAX_STATE_BYTES:
            return None
        data = os.read(fd, size + 1)
        while len(data) <= size:  # os.read may return less than asked
            more = os.read(fd, size + 1 - len(data))
            if not more:
                break
            data += more
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(data) > MAX_STATE_BYTES or not data.startswith(MAGIC):
        return None
    end = data.find(b"\n", len(MAGIC))
    if end != len(MAGIC) + outmac.TAG_CHARS:  # before hashing up to MAX_STATE_BYTES
        return None
    body = memoryview(data)[end + 1 :]
    chunks = outmac.digests(body)
    if not hmac.compare_digest(data[len(MAGIC) : end], outmac.tag(key, len(body), chunks)):
        return None
    try:
        head, p, layout = unpack(body)
        state = OutState(**head, paths=p.paths, stamps=p.stamps, digests=p.digests, counts=p.counts, layers=p.layers, bundle=p.bundle, bundle_stamps=p.bundle_stamps,
                         spans=p.spans)
    except (ValueError, TypeError, KeyError, IndexError):
        return None
    if not _well_formed(state):
        return None
    outpatch.loaded(path, outpatch.Loaded(body, layout, state, (st.st_dev, st.st_ino, len(data)), chunks))
    return state


def _well_formed(s: OutState) -> bool:
    # Authenticated, so written by cfgc: still, never let a shape error become a crash.
    return (
        isinstance(s.dirs, dict)
        and isinstance(s.globals, dict)
        and isinstance(s.folders, dict)
        and isinstance(s.warned, list)
        and isinstance(s.varnames, list)
        and isinstance(s.entries, dict)
        and isinstance(s.pins, dict)
        and isinstance(s.sops, dict)
        and isinstance(s.config_marks, dict)
        and isinstance(s.careful, dict)
        and isinstance(s.renders, dict)
        and (not s.spans or len(s.spans) == 2 + 2 * len(s.names))
        and (not s.layers or (min(s.layers) >= 0 and max(s.layers) < len(s.paths)))
    )


# States kept per cache: one per --out directory, the least recently written go first.
MAX_STATES = 8


def save(cache_root: Path, out: Path, key: bytes, state: OutState) -> None:
    """Write the state of ``out`` (atomically); an unwritable cache only costs speed.

    At most :data:`MAX_STATES` are kept: builds into ever new directories
    (CI workspaces) do not fill the cache.
    """
    path = state_path(cache_root, out)
    if outpatch.patch(path, state, lambda n, chunks: outmac.tag(key, n, chunks), len(MAGIC),
                      len(MAGIC) + outmac.TAG_CHARS + 1):
        return
    head = {k: v for k, v in state.to_json().items() if k not in PACKED}
    try:
        body = pack(head, Packed(state.paths, state.stamps, state.digests, state.bundle, state.bundle_stamps,
                                 state.spans, state.counts, state.layers))
    except (ValueError, KeyError, OverflowError):  # not a state to keep: the next build is a full one
        forget(cache_root, out)
        return
    data = b"".join((MAGIC, outmac.tag(key, len(body), outmac.digests(body)), b"\n", body))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # A full disk, a planted folder or an interrupt leaves no copy of the state.
        with temp_file(path.parent, ".state.") as (f, tmp):
            with f:
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


def bundle_parts(stamps: dict[str, Stamp], names: list[str]) -> tuple[list[str], array[int]]:
    """OUT's files in a state's order (the targets' files first, by name, then the others) and their stamps.

    KeyError when a target's file is not among them.
    """
    own = target_files(names)
    mine = set(own)
    order = own + [p for p in stamps if p not in mine]
    return order, ints(chain.from_iterable(stamps[p] for p in order))


def folder_stamp(st: os.stat_result, racy_after: int | None = None) -> str:
    """A repo folder's stamp (its entries change its mtime and ctime), "" when too recent."""
    if racy_after is not None and max(st.st_mtime_ns, st.st_ctime_ns) >= racy_after:
        return ""
    return f"{st.st_mtime_ns}:{st.st_ctime_ns}"


def dir_stamp(st: os.stat_result, now: int) -> int:
    """A folder of OUT's mtime, or -1 when it changed too recently (list it next time)."""
    return st.st_mtime_ns if out_stamp(st, now) != NO_STAMP else -1
