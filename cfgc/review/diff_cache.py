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

import gc
import hashlib
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path as FsPath
from typing import Any, NamedTuple

import orjson

from cfgc import __version__
from cfgc.base.diagnostics import Diagnostic
from cfgc.base.errors import Location
from cfgc.base.loading import Path
from cfgc.base.secretrefs import SecretRef
from cfgc.bundle.cache_index import cache_key, load_entry
from cfgc.review.check_cache import decode_findings, encode_findings
from cfgc.review.sealed import read_sealed, write_sealed

MAGIC = b"cfgc-diff-cache 1\n"
FILE_NAME = "diff-records"
MAX_FILE_BYTES = 512 * 1024 * 1024  # a bigger file is not ours
MAX_ENTRIES = 2_000_000  # entries (and subtrees) read; a file with more is not ours
KEEP_FACTOR = 3
MIN_KEEP = 1_000
_TIME_BUDGET = "limits.template_seconds"
# orjson writes dataclasses (a SecretRef) and subclasses as plain JSON: both go to _no_secret instead.
_EXACT = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic collector off for a phase that makes many objects and no
    cycles (reading records: 20,000 of them for a diff of 10,000 targets, which
    set off full collections over everything loaded), on again after it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def frozen_scope() -> Iterator[Callable[[], None]]:
    """Yields ``freeze``: the objects alive when it is called are kept out of
    the collector's generations (``gc.freeze``) until the scope ends.

    Only when nothing froze objects before (a forked worker, the agent's
    child): ``gc.unfreeze`` would release theirs too.  Never beyond the scope:
    garbage frozen with them would never be collected (a long-lived process,
    the test suite, would keep every cycle that held a file open).
    """
    mine = gc.get_freeze_count() == 0
    froze = False

    def freeze() -> None:
        nonlocal froze
        if mine:
            gc.freeze()
            froze = True

    try:
        yield freeze
    finally:
        if froze:
            gc.unfreeze()


def record_key(target_key: str, validators: str) -> str:
    """The key of one target's record: see the module docstring for why these suffice."""
    return hashlib.sha256(f"diff\0{target_key}\0{validators}".encode()).hexdigest()


class Unlocated(LookupError):
    """A record does not hold the location of a path a diff needs (or holds it malformed)."""


class Located(NamedTuple):
    """The head-side locations a record holds (:meth:`locate` as Provenance's),
    checked when used: most records of a diff are asked for one path or none."""

    where: list[Any]

    def locate(self, path: Path) -> Location:
        """The stored location of ``path``; :class:`Unlocated` when not stored
        (or stored malformed: the target is compiled for it)."""
        want = list(path)
        for w in self.where:
            if type(w) is list and len(w) == 4 and w[0] == want:
                _, file, line, col = w
                if _key_path(w[0]) and type(file) is str and type(line) is int and type(col) is int:
                    return Location(file, line, col)
                break
        raise Unlocated(path)


class Record:
    """One target as a diff compares it (``value`` holds its SecretRefs; its
    top-level subtrees are shared with other records and never to be mutated).

    ``keys`` and ``idx`` name each top-level subtree by its index in the record file.
    Subtrees are stored once by content id (the id covers the references'
    places and tokens), so two records of one file that name the same index
    for a key hold equal comparable values there: a diff need not look inside.

    ``value`` is assembled on first use, when the record's subtrees'
    comparison tokens also go to its side's (``into``): a global change
    compares most records by their indices alone.  Every subtree it names
    was decoded and checked when the record was read, and the file was
    authenticated as a whole before that, so what is assembled later is
    what was checked.  (A class with slots, not a dataclass: a diff makes
    20,000 of them, and a frozen dataclass's constructor costs several times this one's.)
    """

    __slots__ = ("keys", "idx", "secrets", "findings", "where", "_file", "_into", "_value")

    def __init__(self, keys: tuple[str, ...], idx: list[Any], secrets: tuple[str, ...],
                 findings: tuple[Diagnostic, ...], where: list[Any], file: DiffCache,
                 into: dict[SecretRef, str]) -> None:
        self.keys = keys  # its top-level keys (one object per shape in the file)
        self.idx = idx  # the index of each key's subtree
        self.secrets = secrets
        self.findings = findings
        self.where = where  # the stored locations, checked when used
        self._file = file
        self._into = into
        self._value: dict[str, Any] | None = None

    @property
    def value(self) -> dict[str, Any]:
        """The compiled value, its references in place (assembled once)."""
        value = self._value
        if value is None:
            value = self._value = self._file.assemble(self.keys, self.idx, self._into)
        return value

    @property
    def provenance(self) -> Located:
        """Its stored head-side locations."""
        return Located(self.where)


# -- encoding (in the process that compiled the target) -------------------------
class Encoder:
    """Encodes records; a subtree shared by many targets is encoded once (by identity)."""

    def __init__(self) -> None:
        self.subtrees: dict[str, Any] = {}
        self._ids: dict[int, tuple[Any, str | None]] = {}  # keeps each object alive

    def record(self, name: str, value: Any, refs: tuple[tuple[Path, SecretRef], ...], secrets: tuple[str, ...],
               tokens: dict[SecretRef, str], findings: list[Diagnostic],
               located: dict[Path, Location | None]) -> list[Any] | None:
        """The JSON form of one record, or None when it cannot be kept exactly."""
        if type(value) is not dict or any(_TIME_BUDGET in d.message for d in findings):
            return None
        if any(loc is None for loc in located.values()):
            return None
        by_top: dict[str | int, list[Any]] = {}
        for path, ref in refs:
            if not path:
                return None
            by_top.setdefault(path[0], []).append([list(path[1:]), ref.file, list(ref.path), ref.type, tokens[ref]])
        top = []
        for k, v in value.items():
            if type(k) is not str:
                return None
            sid = self._subtree(v, by_top.get(k, []))
            if sid is None:
                return None
            top.append([k, sid])
        where = [[list(p), loc.path, loc.line, loc.col] for p, loc in located.items() if loc is not None]
        return [name, list(secrets), encode_findings(findings), where, top]

    def _subtree(self, v: Any, refs: list[Any]) -> str | None:
        hit = self._ids.get(id(v))
        if hit is not None and not refs:
            return hit[1]
        try:
            text = orjson.dumps(v, default=_no_secret, option=_EXACT)
        except TypeError:
            sid = None
        else:
            # 128 bits name a subtree within one authenticated file.
            sid = None if not _exact(v) else hashlib.sha256(text + orjson.dumps(refs)).hexdigest()[:32]
            if sid is not None:
                self.subtrees[sid] = [text, refs]  # bytes: it crosses a process boundary
        if not refs:
            self._ids[id(v)] = (v, sid)
        return sid


def _no_secret(obj: Any) -> None:
    if type(obj) is SecretRef:
        return None  # its place is listed beside the subtree
    raise TypeError("not JSON")


def _exact(v: Any) -> bool:
    """Whether JSON gives back exactly ``v`` (orjson writes NaN and infinities
    as null, and a tuple as a list)."""
    t = type(v)
    if t is float:
        return math.isfinite(v)
    if t is dict:
        return all(_exact(x) for x in v.values())
    if t is list:
        return all(_exact(x) for x in v)
    return t in _SCALARS


_SCALARS = frozenset({str, int, bool, type(None), SecretRef})


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
        # The parsed file is a million long-lived objects without cycles: the
        # collector would walk all of them at every full collection while the
        # records are read (about a third of a recorded diff's time).  They
        # are parsed with it paused; the diff then keeps them out of its
        # generations (frozen_scope).  (Young garbage is frozen with them and
        # waits for the end of the diff: collecting it first cost 30 ms, and
        # what a diff has made by then is its sides' listings, not cycles.)
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

    def get(self, key: str, name: str, into: dict[SecretRef, str]) -> Record | None:
        """The record of target ``name`` under ``key``, or None (absent or
        malformed); its subtrees' comparison tokens go to ``into`` (its
        side's) when its value is first used."""
        raw = self._raw.get(key)  # (any string looks up safely: the file's keys are its own)
        rec = self._decode(raw, name, into) if raw is not None else None
        if rec is not None:
            self._used[key] = raw
        return rec

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
            body = orjson.dumps(doc, default=_no_secret, option=_EXACT)
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
    def _decode(self, raw: Any, name: str, into: dict[SecretRef, str]) -> Record | None:
        # Runs for every target of a recorded diff: exact types, no generators.
        if type(raw) is not list or len(raw) != 6:
            return None
        rname, secrets, found, where, shape, idx = raw
        if rname != name or type(where) is not list or type(idx) is not list or type(secrets) is not list:
            return None
        keys = self._keys.get(shape) if type(shape) is int else None
        if keys is None:
            keys = self._shape(shape)
        if keys is None or len(idx) != len(keys):
            return None
        for f in secrets:
            if type(f) is not str:
                return None
        findings = decode_findings(found) if found != [] else []
        if findings is None:
            return None
        try:  # every subtree decoded already (most records): one C call
            known = self._decoded.issuperset(idx)
        except TypeError:  # an index that is not hashable
            return None
        if not known:
            values = self._values
            for i in idx:  # the first record naming a subtree decodes it
                if type(i) is not int or (i not in values and not self._subtree(i)):
                    return None
        # (A bool or a float equal to a decoded index names that same subtree.)
        # The locations are checked when used: a malformed list is Unlocated (a compile).
        return Record(keys, idx, tuple(secrets), tuple(findings), where, self, into)

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
            ok = _strs(keys) and len(set(keys)) == len(keys)
            self._keys[n] = tuple(keys) if ok else None
        return self._keys[n]

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
        if type(found) is list and _pair(found):
            tokens: list[tuple[SecretRef, str]] = []
            value = _place(found[0], found[1], tokens)
            if value is not _BAD:
                self._values[i] = value
                self._decoded.add(i)
                if tokens:
                    self._tokens[i] = tokens
                return True
        self._bad.add(i)
        return False


_BAD = object()


def _pair(found: Any) -> bool:
    return type(found) is list and len(found) == 2 and type(found[1]) is list


def _place(value: Any, refs: list[Any], tokens: list[tuple[SecretRef, str]]) -> Any:
    """``value`` with each listed secret reference put back (in place: it was
    just parsed); each reference's token goes to ``tokens``."""
    for r in refs:
        if type(r) is not list or len(r) != 5 or not _key_path(r[0]) or not _key_path(r[2]):
            return _BAD
        rel, file, path, kind, token = r
        if type(file) is not str or type(kind) is not str or type(token) is not str:
            return _BAD
        ref = SecretRef(file, tuple(path), kind)
        tokens.append((ref, token))
        if not rel:
            value = ref
            continue
        parent = value
        for k in rel[:-1]:
            parent = _child(parent, k)
            if parent is _BAD:
                return _BAD
        last = rel[-1]
        if _child(parent, last) is not None:  # only a null the encoder wrote in its place
            return _BAD
        parent[last] = ref
    return value


def _child(parent: Any, k: Any) -> Any:
    if type(parent) is dict and type(k) is str and k in parent:
        return parent[k]
    if type(parent) is list and type(k) is int and 0 <= k < len(parent):
        return parent[k]
    return _BAD


def _key_path(v: Any) -> bool:
    return type(v) is list and all(type(k) is str or type(k) is int for k in v)


def _strs(v: Any) -> bool:
    return type(v) is list and all(type(x) is str for x in v)
