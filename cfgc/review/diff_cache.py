"""What ``cfgc diff`` needs of one compiled target, kept between runs.

A diff compiles each reached target on both sides, validates it and locates
its changed paths on the head side.  All of that is a function of

- the target's build cache key (:class:`cfgc.bundle.target_keys.TargetKeys`:
  the cfgc and library versions, cfgc.yaml, the template limits in force,
  every schema, every prompt template, the path and content of each of its
  layer files in order (SOPS documents are layers, so the ciphertext behind
  each secret reference is keyed), and its name), with each layer digested
  by its git blob id (:mod:`cfgc.review.diff_records`);
- the installed schema validators, which word schema findings
  (:func:`cfgc.review.check_cache.validator_versions`).

Locations are of layer files only, whose paths and bytes are in the key: an
unchanged file whose bytes are equal does not move a line.  So a record is
kept under the digest of those two and holds

- the compiled value, each top-level subtree stored once by its content (the
  targets of one repo share most of them) with the paths of its secret
  references beside it (the value stores ``null`` there; a reference and a
  user mapping of the same shape must not be confused);
- the SOPS documents its references read, and each reference's comparison
  token (:meth:`cfgc.review.diff.Side._token`), beside its place in the subtree
  (the id of a subtree covers its tokens: equal ids mean equal ciphertext);
- its findings as ``cfgc validate`` gives them (schemas, credentials left in clear);
- the head-side location of each path a diff located in it.  A later diff
  that needs a path the record does not hold compiles the target again.

A target that does not compile, whose value JSON cannot carry exactly (a
non-finite float, an integer beyond 64 bits, a non-string key, a type other
than JSON's), or whose findings include a template out of its time budget
(the machine's load) is never kept.

The file lives in the build cache folder and is untrusted like the rest
(:mod:`cfgc.bundle.cache_index`): authenticated with HMAC-SHA256 under the
cache key before it is parsed, read within :data:`MAX_FILE_BYTES`, and every
entry's shape checked when it is used; anything wrong is a miss (the target is
compiled), never a wrong diff.  A save keeps at most :data:`KEEP_FACTOR`
times the run's records (at least :data:`MIN_KEEP`), least recently used
dropped first, and only the subtrees those records name.

The layout is in :mod:`cfgc.review.diff_columns`.  A finding is as in :mod:`cfgc.review.check_cache`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path as FsPath
from typing import Any

import orjson

from cfgc import __version__
from cfgc.base.secretrefs import SecretRef
from cfgc.bundle.cache_index import cache_key, load_entry
from cfgc.review.diff_columns import FIELDS, Columns, finding_set, secret_set, unpack
from cfgc.review.diff_encode import EXACT, no_secret
from cfgc.review.diff_encode import Encoder as Encoder
from cfgc.review.diff_entry import Located as Located
from cfgc.review.diff_entry import Record as Record
from cfgc.review.diff_entry import Unlocated as Unlocated
from cfgc.review.diff_refs import BAD, pair, place_refs, strs
from cfgc.review.gc_phases import collector_paused as collector_paused
from cfgc.review.gc_phases import frozen_scope as frozen_scope
from cfgc.review.sealed import read_sealed, write_sealed

MAGIC = b"cfgc-diff-cache 2\n"  # 2: the entries in columns (1 is refused: recompiled)
FILE_NAME = "diff-records"
MAX_FILE_BYTES = 512 * 1024 * 1024  # a bigger file is not ours
MAX_ENTRIES = 2_000_000  # records, subtrees, shapes and table entries read; a file with more is not ours
# A record names one subtree per top-level key: its packed indices have their own, larger bound
# (a save stops keeping old records before either is passed, so what it writes reads back).
MAX_INDICES = 16 * MAX_ENTRIES
KEEP_FACTOR = 3
_PACKED_MAX_CHARS = 4 * (4 * MAX_INDICES + 2) // 3 + 4  # base64 of MAX_INDICES uint32s
MIN_KEEP = 1_000


def _all_str(values: list[Any]) -> bool:
    for v in values:  # noqa: SIM110 - a loop, not all() over a generator: runs for every record read
        if type(v) is not str:
            return False
    return True


def record_key(target_key: str, validators: str) -> str:
    """The key of one target's record: see the module docstring for why these suffice."""
    return hashlib.sha256(f"diff\0{target_key}\0{validators}".encode()).hexdigest()


# -- the file -------------------------------------------------------------------


class DiffCache:
    """The records of one cache folder, loaded at creation and written by :meth:`save`.

    In the file a record names its top-level keys by the index of a key list
    ("shape") and its subtrees by index, not by id: 10,000 targets of 14 keys
    each would otherwise spend most of the file (and of its parse) on ids.
    """

    def __init__(self, folder: FsPath) -> None:
        self.path = folder / FILE_NAME
        self._rows: dict[str, int] = {}  # record key -> its row in the columns
        self._names: list[Any] = []
        self._cols: Any = ()  # FIELDS packed indices per row
        self._off: Any = (0,)  # the start of each row's subtree indices, and the end
        self._idx: Any = ()
        self._tables: list[list[Any]] = [[], [], []]  # secret files, findings, locations
        self._ids: list[Any] = []
        self._subtrees: list[Any] = []
        self._shapes: list[Any] = []
        # Subtrees decoded so far (shared by every record naming them), and the malformed ones.
        self._values: dict[int, Any] = {}
        self._decoded: set[int] = set()  # the keys of _values
        self._tokens: dict[int, list[tuple[SecretRef, str]]] = {}  # only those with references
        self._bad: set[Any] = set()
        self._given: set[tuple[int, int]] = set()  # (side's token dict, subtree) handed over
        self._keys: dict[int, tuple[str, ...] | None] = {}
        self._secret_sets: dict[int, tuple[str, ...] | None] = {}  # table index -> checked
        self._finding_sets: dict[int, tuple[Any, ...] | None] = {}
        self._used: dict[str, int] = {}  # records this run read (their rows)
        self._new: dict[str, Any] = {}  # records this run made (the Encoder's form)
        self._new_subtrees: dict[str, Any] = {}
        self._key: bytes | None = None
        try:
            self._key = cache_key()
            self._read(self._key)
        except (OSError, ValueError, RecursionError):  # no key can be kept, no file, or not ours
            self._clear()

    def _clear(self) -> None:
        self._rows, self._names, self._cols, self._off, self._idx = {}, [], (), (0,), ()
        self._tables, self._ids, self._subtrees, self._shapes = [[], [], []], [], [], []

    def _read(self, key: bytes) -> None:
        body = read_sealed(self.path, MAGIC, key, MAX_FILE_BYTES)
        # A million long-lived objects without cycles, parsed with the collector
        # paused and then kept out of its generations (frozen_scope): every full
        # collection walked them all (a third of a recorded diff's time).
        with collector_paused():
            doc = load_entry(body)
        if type(doc) is not dict or doc.get("cfgc") != __version__:
            return
        keys, names, ids, subtrees, shapes = (doc.get(k) for k in ("keys", "names", "ids", "subtrees", "shapes"))
        tables = [doc.get(k) for k in ("secrets", "findings", "where")]
        # Counted before they are decoded: base64 of MAX_INDICES uint32s at most.
        packed = [doc.get(k) for k in ("rows", "offsets", "idx")]
        if any(type(t) is str and len(t) > _PACKED_MAX_CHARS for t in packed):
            return
        cols, off, idx = (unpack(t) for t in packed)
        if (type(keys) is not list or type(names) is not list or type(ids) is not list
                or type(subtrees) is not list or type(shapes) is not list or len(ids) != len(subtrees)
                or any(type(t) is not list for t in tables) or cols is None or off is None or idx is None):
            return
        n = len(keys)
        if (max(n, len(subtrees), len(shapes), sum(len(t) for t in tables if type(t) is list)) > MAX_ENTRIES
                or len(idx) > MAX_INDICES):
            return
        if len(names) != n or len(cols) != FIELDS * n or len(off) != n + 1:
            return
        # (Any string looks up safely: the file's keys are its own; a key that is
        # not a string is only ever missed.)
        self._rows = dict(zip(keys, range(n), strict=True)) if _all_str(keys) else {}
        self._names, self._cols, self._off, self._idx = names, cols, off, idx
        self._tables = tables  # type: ignore[assignment]  # (checked: lists)
        self._ids, self._subtrees, self._shapes = ids, subtrees, shapes
        # Every subtree without references is its value as parsed: all taken in
        # one comprehension, not a call each when a record first names it.
        self._values = {i: s[0] for i, s in enumerate(subtrees) if type(s) is list and len(s) == 2 and s[1] == []}
        self._decoded = set(self._values)

    def get_many(self, wanted: Mapping[str, str], into: dict[SecretRef, str]) -> dict[str, Record]:
        """The record of each target ``name: key`` of ``wanted`` found (not
        absent nor malformed), by name; their subtrees' comparison tokens go
        to ``into`` (their side's) when a value is first used."""
        # Runs for every target of a recorded diff (20,000 of them): one
        # loop, exact types, no generators, no call but for what is new.
        found: dict[str, Record] = {}
        rows, names, cols, off, packed = self._rows, self._names, self._cols, self._off, self._idx
        used, shapes, decoded = self._used, self._keys, self._decoded
        secret_sets, finding_sets, (_, _, where_t) = self._secret_sets, self._finding_sets, self._tables
        end = len(packed)
        for name, key in wanted.items():
            r = rows.get(key)
            if r is None or names[r] != name:
                continue
            b = FIELDS * r
            shape, s, f, w = cols[b], cols[b + 1], cols[b + 2], cols[b + 3]
            keys = shapes.get(shape)
            if keys is None:
                keys = self._shape(shape)
            o0, o1 = off[r], off[r + 1]
            if keys is None or o1 - o0 != len(keys) or o1 > end:
                continue
            try:  # (one lookup for most records: a repo has a few distinct lists)
                secrets = secret_sets[s]
            except KeyError:
                secrets = secret_sets[s] = secret_set(self._tables[0], s)
            try:
                findings = finding_sets[f]
            except KeyError:
                findings = finding_sets[f] = finding_set(self._tables[1], f)
            where = where_t[w] if w < len(where_t) else None
            if secrets is None or findings is None or type(where) is not list:
                continue
            idx = packed[o0:o1].tolist()
            if not decoded.issuperset(idx) and not self._decode_all(idx):  # most records: one C call
                continue
            # The locations are checked when used: a malformed list is Unlocated (a compile).
            found[name] = Record(keys, idx, secrets, findings, where, self, into)
            used[key] = r
        return found

    def put(self, key: str, raw: list[Any], subtrees: dict[str, Any]) -> None:
        """Keep one record (its JSON form from :class:`Encoder`), written by :meth:`save`."""
        self._used.pop(key, None)
        self._new[key] = raw
        self._new_subtrees.update((sid, subtrees[sid]) for _, sid in raw[-1] if sid in subtrees)

    def save(self) -> None:
        """Write the file when this run made records; failures are ignored (it is a cache)."""
        if self._key is None or not self._new:
            return
        keep = max(MIN_KEEP, KEEP_FACTOR * (len(self._used) + len(self._new)))
        old = [(k, r) for k, r in self._rows.items() if k not in self._used and k not in self._new]
        room = keep - len(self._used) - len(self._new)
        out = Columns()
        # What this run made and used always; old records only while what is written
        # stays inside the bounds _read enforces (else the whole file is refused next time).
        budget = MAX_INDICES - sum(len(raw[-1]) for raw in self._new.values())
        budget -= sum(self._off[r + 1] - self._off[r] for r in self._used.values())
        carried = old[max(0, len(old) - room):]
        while carried and (len(carried) + len(self._used) + len(self._new) > MAX_ENTRIES
                           or sum(self._off[r + 1] - self._off[r] for _, r in carried) > budget):
            carried = carried[len(carried) // 2 + 1:]  # the least recently used go first
        try:  # a kept subtree holds the references put back into it: null again
            for key, r in [*carried, *self._used.items()]:
                found = self._old_record(r)
                if found is not None:
                    out.add(key, *found)
            for key, raw in self._new.items():
                out.add_new(key, raw, self._new_subtrees)
            doc = out.doc(__version__)
            body = orjson.dumps(doc, default=no_secret, option=EXACT)
        except TypeError:  # (a path orjson cannot write: not UTF-8)
            return
        write_sealed(self.path, MAGIC, self._key, body)

    def _old_record(self, r: int) -> tuple[list[Any], list[tuple[str, str, Any]]] | None:
        """The head (name, secret files, findings, locations) and ``(key, subtree
        id, subtree)`` of each top-level key of a record read from the file, or
        None if malformed."""
        b, (secrets, findings, where) = FIELDS * r, self._tables
        s, f, w = self._cols[b + 1], self._cols[b + 2], self._cols[b + 3]
        keys, idx = self._shape(self._cols[b]), self._idx[self._off[r]:self._off[r + 1]]
        if keys is None or len(idx) != len(keys) or max(s - len(secrets), f - len(findings), w - len(where)) >= 0:
            return None
        out = []
        for k, i in zip(keys, idx, strict=True):
            if not i < len(self._ids) or type(self._ids[i]) is not str:
                return None
            out.append((k, self._ids[i], self._subtrees[i]))
        return [self._names[r], secrets[s], findings[f], where[w]], out

    # -- decoding: every shape checked, anything else is a miss -----------------
    def assemble(self, keys: tuple[str, ...], idx: list[int], into: dict[SecretRef, str]) -> dict[str, Any]:
        """A record's value from its (decoded, checked) subtrees; their tokens go to ``into``."""
        values, tokens = self._values, self._tokens
        for i in idx:
            found = tokens.get(i)
            if found is not None and (id(into), i) not in self._given:
                self._given.add((id(into), i))
                into.update(found)
        return dict(zip(keys, [values[i] for i in idx], strict=True))

    def _shape(self, n: Any) -> tuple[str, ...] | None:
        if type(n) is not int:
            return None
        if n not in self._keys:
            keys: Any = self._shapes[n] if 0 <= n < len(self._shapes) else None
            ok = strs(keys) and len(set(keys)) == len(keys)
            self._keys[n] = tuple(keys) if ok else None
        return self._keys[n]

    def _decode_all(self, idx: list[Any]) -> bool:
        """Whether every index is an int naming a good subtree; the first record naming one decodes it."""
        decoded = self._decoded
        for i in idx:
            if type(i) is not int or (i not in decoded and not self._subtree(i)):
                return False
        return True

    def _subtree(self, i: Any) -> bool:
        """Decode one subtree with references and their tokens, once for every
        record that names it (False: malformed or no such index; one without
        references was taken as parsed when the file was read)."""
        if type(i) is not int or not 0 <= i < len(self._subtrees) or i in self._bad:
            return False
        if i in self._values:
            return True
        found = self._subtrees[i]
        if type(found) is list and pair(found):
            tokens: list[tuple[SecretRef, str]] = []
            value = place_refs(found[0], found[1], tokens)
            if value is not BAD:
                self._values[i] = value
                self._decoded.add(i)
                if tokens:
                    self._tokens[i] = tokens
                return True
        self._bad.add(i)
        return False
