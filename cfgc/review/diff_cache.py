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

Layout::

    cfgc-diff-cache 1\\n
    <hex HMAC-SHA256 of the magic line and the body>\\n
    <body: JSON {"cfgc": version, "ids": [subtree id...],
                 "subtrees": [[value, [[rel path, file, path, type, token]...]]...],
                 "shapes": [[top key...]...],
                 "entries": {key: [name, [secret files], [finding...], [[path, file, line, col]...],
                                   shape index, [subtree index...]]}}>

A finding is as in :mod:`cfgc.review.check_cache`.
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
from cfgc.review.check_cache import decode_findings
from cfgc.review.diff_encode import EXACT, no_secret
from cfgc.review.diff_encode import Encoder as Encoder
from cfgc.review.diff_entry import Located as Located
from cfgc.review.diff_entry import Record as Record
from cfgc.review.diff_entry import Unlocated as Unlocated
from cfgc.review.diff_refs import BAD, pair, place_refs, strs
from cfgc.review.gc_phases import collector_paused as collector_paused
from cfgc.review.gc_phases import frozen_scope as frozen_scope
from cfgc.review.sealed import read_sealed, write_sealed

MAGIC = b"cfgc-diff-cache 1\n"
FILE_NAME = "diff-records"
MAX_FILE_BYTES = 512 * 1024 * 1024  # a bigger file is not ours
MAX_ENTRIES = 2_000_000  # entries (and subtrees) read; a file with more is not ours
KEEP_FACTOR = 3
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
        self._raw: dict[str, Any] = {}  # record key -> the file's form
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
        self._used: dict[str, Any] = {}  # records this run read (the file's form)
        self._new: dict[str, Any] = {}  # records this run made (the Encoder's form)
        self._new_subtrees: dict[str, Any] = {}
        self._key: bytes | None = None
        try:
            self._key = cache_key()
            self._read(self._key)
        except (OSError, ValueError, RecursionError):  # no key can be kept, no file, or not ours
            self._raw, self._ids, self._subtrees, self._shapes = {}, [], [], []

    def _read(self, key: bytes) -> None:
        body = read_sealed(self.path, MAGIC, key, MAX_FILE_BYTES)
        # A million long-lived objects without cycles, parsed with the collector
        # paused and then kept out of its generations (frozen_scope): every full
        # collection walked them all (a third of a recorded diff's time).
        with collector_paused():
            doc = load_entry(body)
        if not isinstance(doc, dict) or doc.get("cfgc") != __version__:
            return
        entries, ids, subtrees, shapes = (doc.get(k) for k in ("entries", "ids", "subtrees", "shapes"))
        if (type(entries) is not dict or type(ids) is not list or type(subtrees) is not list
                or type(shapes) is not list or len(ids) != len(subtrees)):
            return
        if max(len(entries), len(subtrees), len(shapes)) > MAX_ENTRIES:
            return
        self._raw, self._ids, self._subtrees, self._shapes = entries, ids, subtrees, shapes

    def get_many(self, wanted: Mapping[str, str], into: dict[SecretRef, str]) -> dict[str, Record]:
        """The record of each target ``name: key`` of ``wanted`` found (not
        absent nor malformed), by name; their subtrees' comparison tokens go
        to ``into`` (their side's) when a value is first used."""
        # Runs for every target of a recorded diff (20,000 of them): one
        # loop, exact types, no generators, no call but for what is new.
        found: dict[str, Record] = {}
        raws, used, shapes, decoded = self._raw, self._used, self._keys, self._decoded
        for name, key in wanted.items():
            raw = raws.get(key)  # (any string looks up safely: the file's keys are its own)
            if type(raw) is not list or len(raw) != 6:
                continue
            rname, secrets, got, where, shape, idx = raw
            if rname != name or type(where) is not list or type(idx) is not list or type(secrets) is not list:
                continue
            keys = shapes.get(shape) if type(shape) is int else None
            if keys is None:
                keys = self._shape(shape)
            if keys is None or len(idx) != len(keys):
                continue
            if secrets and not _all_str(secrets):
                continue
            findings = decode_findings(got) if got != [] else []
            if findings is None:
                continue
            try:  # every subtree decoded already (most records): one C call
                known = decoded.issuperset(idx)
            except TypeError:  # an index that is not hashable
                continue
            if not known and not self._decode_all(idx):
                continue
            # (A bool or a float equal to a decoded index names that same subtree.)
            # The locations are checked when used: a malformed list is Unlocated (a compile).
            found[name] = Record(keys, idx, tuple(secrets), tuple(findings), where, self, into)
            used[key] = raw
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
        old = [(k, v) for k, v in self._raw.items() if k not in self._used and k not in self._new]
        room = keep - len(self._used) - len(self._new)
        ids: dict[str, int] = {}
        subtrees: list[Any] = []
        shapes: dict[tuple[str, ...], int] = {}
        entries: dict[str, Any] = {}

        def add(key: str, head: list[Any], top: list[tuple[str, str, Any]]) -> None:
            # Least recently used first: this run's records last (what a later save drops last).
            idx = []
            for _, sid, sub in top:
                i = ids.get(sid)
                if i is None:
                    i = ids[sid] = len(subtrees)
                    subtrees.append(sub)
                idx.append(i)
            shape = tuple(k for k, _, _ in top)
            n = shapes.setdefault(shape, len(shapes))
            entries[key] = [*head, n, idx]

        for key, raw in [*old[max(0, len(old) - room):], *self._used.items()]:
            top = self._old_top(raw)
            if top is not None:
                add(key, raw[:4], top)
        for key, raw in self._new.items():
            top = []
            for k, sid in raw[-1]:
                sub: Any = self._new_subtrees.get(sid)
                if sid in ids or sub is None:  # already added (its value unused), or lost
                    top.append((k, sid, None))
                    continue
                top.append((k, sid, [orjson.loads(sub[0]), sub[1]]))
            if all(sid in ids or sub is not None for _, sid, sub in top):
                add(key, raw[:4], top)
        doc = {"cfgc": __version__, "ids": list(ids), "subtrees": subtrees,
               "shapes": [list(k) for k in shapes], "entries": entries}
        try:  # a kept subtree holds the references put back into it: null again
            body = orjson.dumps(doc, default=no_secret, option=EXACT)
        except TypeError:
            return
        write_sealed(self.path, MAGIC, self._key, body)

    def _old_top(self, raw: Any) -> list[tuple[str, str, Any]] | None:
        """``(key, subtree id, subtree)`` of a record read from the file, or None if malformed."""
        if type(raw) is not list or len(raw) != 6:
            return None
        keys, idx = self._shape(raw[4]), raw[5]
        if keys is None or type(idx) is not list or len(idx) != len(keys):
            return None
        out = []
        for k, i in zip(keys, idx, strict=True):
            if type(i) is not int or not 0 <= i < len(self._ids) or type(self._ids[i]) is not str:
                return None
            out.append((k, self._ids[i], self._subtrees[i]))
        return out

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
        """Decode one subtree and its references' tokens, once for every record
        that names it (False: malformed or no such index)."""
        if type(i) is not int or not 0 <= i < len(self._subtrees) or i in self._bad:
            return False
        if i in self._values:
            return True
        found = self._subtrees[i]
        if type(found) is list and len(found) == 2 and found[1] == []:  # no references: as parsed
            self._values[i] = found[0]
            self._decoded.add(i)
            return True
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
