"""Each side of a diff: its target list and record keys, kept by the digest of its tree.

A recorded diff (:mod:`cfgc.review.diff_cache`) still lists every target of
both sides from the hierarchy patterns and keys each one (about 0.3 s for
10,000 targets a side).  Both are functions of

- every file path of the side and each file's git blob id (the listing reads
  paths; the keys read cfgc.yaml, the schemas, the prompt templates and each
  target's layers, all among those files);
- the global key (:func:`cfgc.bundle.target_keys.global_key`: the cfgc and
  library versions and the template limits in force, which no file holds);
- the installed schema validators' versions and the ``--target`` glob.

So a side's listing and keys are kept in one file named by the digest of
those (:func:`side_digest`).  Blob ids are the ones
:func:`cfgc.review.diff_files.changed_files` trusts: a git side's from its
tree, a working tree's from git's index where its stat cache vouches for a
file (:mod:`cfgc.review.index_ids`), otherwise by hashing the bytes.  A
working tree's side is kept only when every file the diff read had the id
its digest names (:func:`cfgc.review.diff_files.read_as_keyed`): a file saved
while the diff runs is not kept under its old id.

The files are untrusted like the rest of the cache folder: each is sealed
with HMAC-SHA256 under the cache key (:mod:`cfgc.review.sealed`), read within
:data:`MAX_FILE_BYTES`, names its own digest inside the sealed body (a file
renamed to another side's name is not that side), and every entry's shape is
checked; anything wrong is a miss (the side is listed and keyed), never a
wrong diff.  At most :data:`KEEP` files are kept, the least recently written
removed first.

Layout of ``diff-sides/<digest>``::

    cfgc-diff-side 1\\n
    <hex HMAC-SHA256 of the magic line and the body>\\n
    <body: JSON {"cfgc": version, "side": digest, "vars": [variable...],
                 "prefixes": [[layer...]...],
                 "specs": [[name, [value per variable], prefix index, last layer, record key or null]...]}>
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

import orjson

from cfgc import __version__
from cfgc.repo import config
from cfgc.repo.hierarchy import TargetSpec
from cfgc.review.gc_phases import collector_paused
from cfgc.review.sealed import SealedFolder, read_sealed, write_sealed

MAGIC = b"cfgc-diff-side 1\n"
FOLDER = "diff-sides"
MAX_FILE_BYTES = 256 * 1024 * 1024  # a bigger file is not ours
MAX_TARGETS = 2_000_000  # specs (and prefixes) read; a file with more is not ours
KEEP = 16  # side files kept: a base and a head per pull request, a few at once
_DIGEST = re.compile(r"[0-9a-f]{64}")
CONFIG_NAME = "config"  # beside the side files: cfgc.yaml's kept positions and verdicts
CONFIG_MAGIC = b"cfgc-diff-config 1\n"
MAX_CONFIG_BYTES = 8 * 1024 * 1024  # Kept holds at most 16 entries of 256 KiB


def side_digest(global_key: str, validators: str, select: str | None, files: Iterable[str],
                digest: Callable[[str], str], tree: str | None = None) -> str:
    """The digest a side's listing and record keys are kept under (see the
    module docstring); a git side gives its ``tree`` id, which covers every
    path and blob id below it, instead of its ``files``."""
    # (surrogateescape: a path that is not UTF-8 is hashed as its own bytes, not an exit 3)
    h = hashlib.sha256(f"diff-side\0{global_key}\0{validators}\0{select!r}\0".encode("utf-8", "surrogateescape"))
    if tree is not None:
        h.update(f"git tree\0{tree}".encode())
    else:
        h.update("\0".join(f"{p}\0{digest(p)}" for p in sorted(files)).encode("utf-8", "surrogateescape"))
    return h.hexdigest()


@dataclass(frozen=True)
class KeptSide:
    """A side's target list (``--target`` applied) and the record keys known for them."""

    specs: list[TargetSpec]
    keys: dict[str, str]
    # The file's variables, prefixes and rows, as checked: the other side of
    # a diff usually lists the same targets (see _decode).
    raw: tuple[Any, Any, Any] | None = field(default=None, compare=False, repr=False)


class SideStore:
    """The side files of one cache folder (``None`` key: nothing is read or written)."""

    def __init__(self, folder: FsPath) -> None:
        self._files = SealedFolder(folder / FOLDER, MAGIC, MAX_FILE_BYTES, KEEP, "side")
        self.folder, self._key = self._files.folder, self._files.key

    def get(self, digest: str, like: KeptSide | None = None) -> KeptSide | None:
        """The side kept under ``digest``, or None (absent, not ours or malformed);
        its targets listed as in ``like`` (the other side) are ``like``'s objects."""
        # Tens of thousands of objects without cycles: the collector would
        # walk them over and over while they are made (two thirds of the time).
        with collector_paused():
            doc = self._files.load(digest)
            return None if doc is None else _decode(doc, like)

    def put(self, digest: str, specs: list[TargetSpec], keys: Mapping[str, str]) -> None:
        """Keep one side (failures are ignored: it is a cache)."""
        if self._key is None or not _DIGEST.fullmatch(digest):
            return
        variables = specs[0].vars if specs else ()
        names = [v for v, _ in variables]
        prefixes: dict[tuple[str, ...], int] = {}
        rows = []
        for s in specs:
            if [v for v, _ in s.vars] != names or not s.layers:
                return  # not one hierarchy's targets: not kept
            n = prefixes.setdefault(s.layers[:-1], len(prefixes))
            rows.append([s.name, [x for _, x in s.vars], n, s.layers[-1], keys.get(s.name)])
        self._files.save(digest, {"vars": names, "prefixes": [list(p) for p in prefixes], "specs": rows})

    def assume_config(self) -> tuple[int, int]:
        """Take the kept cfgc.yaml verdicts and source positions
        (:data:`cfgc.repo.config.ACCEPTED`, :data:`cfgc.repo.config.MARKS`):
        a diff from records then needs neither PyYAML nor a schema validator
        for cfgc.yaml.  Returns how many of each the file held (see :meth:`keep_config`)."""
        if self._key is None:
            return 0, 0
        try:
            doc = orjson.loads(read_sealed(self.folder / CONFIG_NAME, CONFIG_MAGIC, self._key, MAX_CONFIG_BYTES))
        except (OSError, ValueError):
            return 0, 0
        if type(doc) is not dict or doc.get("cfgc") != __version__ or doc.get("stamp") != config.verdict_stamp():
            return 0, 0
        marks: Any = doc.get("marks")
        accepted: Any = doc.get("accepted")
        if type(marks) is not dict or not _strs(accepted) or len(accepted) > config.MAX_ACCEPTED:
            return 0, 0
        config.MARKS.assume(marks)
        for d in accepted:
            if _DIGEST.fullmatch(d):
                config.ACCEPTED.setdefault(d)
        return len(marks), len(accepted)

    def keep_config(self, held: tuple[int, int]) -> None:
        """Write what this process knows of cfgc.yaml when it is more than the file ``held``."""
        marks = config.MARKS.kept(lambda d: True)
        accepted = list(config.ACCEPTED)
        if self._key is None or (len(marks), len(accepted)) == held:
            return
        body = orjson.dumps({"cfgc": __version__, "stamp": config.verdict_stamp(), "marks": marks,
                             "accepted": accepted})
        write_sealed(self.folder / CONFIG_NAME, CONFIG_MAGIC, self._key, body)



def _decode(doc: dict[str, Any], like: KeptSide | None = None) -> KeptSide | None:
    names: Any = doc.get("vars")
    prefixes, rows = doc.get("prefixes"), doc.get("specs")
    if not _strs(names) or type(prefixes) is not list or type(rows) is not list:
        return None
    variables: list[str] = names
    if max(len(prefixes), len(rows)) > MAX_TARGETS or not all(_strs(p) for p in prefixes):
        return None
    tables = [tuple(p) for p in prefixes]
    specs: list[TargetSpec] = []
    keys: dict[str, str] = {}
    width = len(variables)
    count = len(tables)
    # A row equal to the other side's at the same place (the same variables
    # and prefixes; each field equal, the index an int) is that checked row:
    # its spec is the other side's (frozen).  Both sides of most diffs list
    # the same targets; only their record keys differ.
    same = like is not None and like.raw is not None and like.raw[0] == names and like.raw[1] == prefixes
    other: list[Any] = like.raw[2] if same and like is not None and like.raw is not None else []
    other_specs = like.specs if like is not None else []
    shared = len(other)
    for i, row in enumerate(rows):  # runs 10,000 times a side: exact types, no generators
        if type(row) is not list or len(row) != 5:
            return None
        name, values, n, last, key = row
        if i < shared:
            was = other[i]
            if name == was[0] and values == was[1] and n == was[2] and type(n) is int and last == was[3]:
                if key is not None:
                    if type(key) is not str:
                        return None
                    keys[name] = key
                specs.append(other_specs[i])
                continue
        if (type(name) is not str or type(values) is not list or len(values) != width or type(n) is not int
                or not 0 <= n < count or type(last) is not str):
            return None
        for v in values:
            if type(v) is not str:
                return None
        if key is not None:
            if type(key) is not str:  # (the record file checks a key's form when it is looked up)
                return None
            keys[name] = key
        specs.append(TargetSpec(name, tuple(zip(variables, values, strict=False)), tables[n] + (last,)))  # (width checked)
    if any(a.name >= b.name for a, b in zip(specs, specs[1:], strict=False)):
        return None  # a listing is sorted by name, each name once
    return KeptSide(specs, keys, (names, prefixes, rows))


def _strs(v: Any) -> bool:
    return type(v) is list and all(type(x) is str for x in v)
