"""Jinja2 render results kept across processes, so an in-place rebuild of one file need not import Jinja2.

The render memo (:mod:`cfgc.compile.template_memo`) keys a result on the
template's text, the limits it runs under and the values it reads, and finds
what it reads from Jinja2's own parse (:func:`~cfgc.compile.template_memo.reads`).
Both live in one process.  A rebuild of one changed service file into the
same ``--out`` (docs/performance.md, "Rebuilding into the same --out")
compiles one target whose base files hold templates such as
``"{{ (config.budget.monthly_usd / 30) | round(2) }}"``: importing Jinja2 to
parse and render it costs about 25 ms of a ~0.3 s build.  :data:`KEPT` holds
what an in-place build parsed and rendered: ``reads`` by (text, whole) and
results by the memo's exact key, limits spelled as their ``repr``, every
value tagged with its exact type (so ``1``, ``1.0``, ``True`` and ``"1"``
stay apart, and a float round-trips through its ``repr``).  The build
stores them in the authenticated state of its ``--out``
(:mod:`cfgc.bundle.outstate`), whose toolchain check (cfgc, Python, Jinja2's
installed files) must match before anything is taken back: ``reads`` and
the results depend on the text, the limits and the values read only, for a
given cfgc and Jinja2.  A result is only ever taken for an identical key, so
a changed template or a changed value read renders with Jinja2 again.

Bounded (the repo's templates are hostile input): an entry whose JSON is
over :data:`MAX_ENTRY_CHARS` is not kept; at most :data:`MAX_ENTRIES` reads and
as many results, the least recently used dropped first.  Nothing is recorded
unless :meth:`KeptRenders.assume` was called: an in-place build assumes what
the state kept; a full build that leaves a state assumes nothing, and its
workers hand what they recorded back with each chunk (:meth:`KeptRenders.drain`,
:meth:`KeptRenders.take`), so the first in-place build after it needs no
Jinja2 either.
"""

from __future__ import annotations

import json
from typing import Any

# MISS is also what KeptRenders.reads() and .result() give when nothing is kept.
from cfgc.compile.template_memo import MISS

MAX_ENTRIES = 256
MAX_ENTRY_CHARS = 16 * 1024
Found = tuple[tuple[tuple[str, ...], ...], tuple[str, ...], frozenset[str]]
# What a worker hands back (KeptRenders.drain): reads by (text, whole), results by key text.
Drained = tuple[list[tuple[tuple[str, bool], Found]], list[tuple[str, list[str]]]]
# Exact types a key part or a result may have, and their tags.
_TAGS: dict[type, str] = {str: "s", int: "i", bool: "b", type(None): "n", float: "f"}


def _tag(value: Any) -> list[str] | None:
    """``value`` (a plain scalar, by exact type) as ``[tag, text]``; None for anything else."""
    tag = _TAGS.get(type(value))
    if tag is None:
        return None
    if tag == "s":
        return [tag, value]
    if tag == "n":
        return [tag, ""]
    return [tag, repr(value)]


def _untag(item: Any) -> Any:
    """The value :func:`_tag` spelled; MISS for anything it could not have written."""
    if not (type(item) is list and len(item) == 2 and type(item[0]) is str and type(item[1]) is str):
        return MISS
    tag, text = item
    try:
        if tag == "s":
            return text
        if tag == "n" and not text:
            return None
        if tag == "b" and text in ("True", "False"):
            return text == "True"
        if tag == "i":
            value = int(text)
            return value if repr(value) == text else MISS
        if tag == "f":
            f = float(text)
            return f if repr(f) == text else MISS
    except ValueError:
        return MISS
    return MISS


def _part(part: tuple[Any, ...]) -> list[str] | None:
    """A memo key part (:func:`~cfgc.compile.template_memo.scalar_key`, ("bound",) or ("global",)) as JSON."""
    if len(part) == 1 and part[0] in ("bound", "global"):
        return [part[0]]
    if len(part) == 2 and part[0] is float and type(part[1]) is str:
        return ["f", part[1]]  # scalar_key keeps a float as its repr already
    if len(part) == 2 and part[0] in _TAGS and part[0] is not float and type(part[1]) is part[0]:
        return _tag(part[1])
    return None


def key_text(key: tuple[Any, ...]) -> str | None:
    """The memo key ``(text, limits, *parts)`` as one string, or None if a part is not one the memo makes."""
    parts = [_part(p) for p in key[2:]]
    if any(p is None for p in parts):
        return None
    return json.dumps([key[0], repr(key[1]), parts], ensure_ascii=False, separators=(",", ":"))


class KeptRenders:
    """Template reads and render results one process hands the next (see the module docstring)."""

    def __init__(self) -> None:
        self.recording = False
        self._reads: dict[tuple[str, bool], Found] = {}  # by (text, whole): looked up on every render
        self._results: dict[str, list[str]] = {}
        self._fresh: list[tuple[bool, Any]] = []  # (is a read, its key) recorded since the last drain

    def clear(self) -> None:
        """Forget everything and stop recording."""
        self.recording = False
        self._reads.clear()
        self._results.clear()
        self._fresh.clear()

    def reads(self, text: str, whole: bool) -> Any:
        """The kept :func:`~cfgc.compile.template_memo.reads` answer for ``text``, or :data:`MISS`."""
        if not self._reads:
            return MISS
        found = self._reads.get((text, whole))
        return MISS if found is None else found

    def note_reads(self, text: str, whole: bool, found: Found | None) -> None:
        """Keep what :func:`reads` found (a template it refused renders with Jinja2 anyway: not kept)."""
        if not self.recording or found is None:
            return
        chains, names, bound = found
        entry = [text, whole, [list(c) for c in chains], list(names), sorted(bound)]
        if len(json.dumps(entry, ensure_ascii=False)) <= MAX_ENTRY_CHARS:
            self._put(self._reads, (text, whole), found)
            self._note_fresh(True, (text, whole))

    def result(self, key: tuple[Any, ...]) -> Any:
        """The kept result for the memo key ``key``, or :data:`MISS`."""
        if not self._results:
            return MISS
        text = key_text(key)
        item = None if text is None else self._results.get(text)
        if text is None or item is None:
            return MISS
        self._put(self._results, text, item)  # used again: the last to be dropped
        return _untag(item)

    def note_result(self, key: tuple[Any, ...], value: Any) -> None:
        """Keep a successful render's scalar result under its memo key."""
        if not self.recording:
            return
        text, item = key_text(key), _tag(value)
        if text is not None and item is not None and len(text) + len(item[1]) <= MAX_ENTRY_CHARS:
            self._put(self._results, text, item)
            self._note_fresh(False, text)

    def kept(self) -> dict[str, Any]:
        """What to store in the state: JSON-able, read back by :meth:`assume`."""
        reads = [[*k, [list(c) for c in f[0]], list(f[1]), sorted(f[2])] for k, f in self._reads.items()]
        return {"reads": reads, "results": [[k, v] for k, v in self._results.items()]}

    def drain(self) -> Drained:
        """What this process recorded since the last drain and still holds (a forked worker's
        share, sent back with its chunk; picklable), oldest first."""
        fresh, self._fresh = self._held(), []
        return ([(k, self._reads[k]) for r, k in fresh if r], [(k, self._results[k]) for r, k in fresh if not r])

    def take(self, drained: Drained) -> None:
        """Keep what :meth:`drain` gave in a worker this process forked (trusted: never from storage)."""
        if not self.recording:
            return
        reads, results = drained
        for rkey, found in reads:
            self._put(self._reads, rkey, found)
        for key, item in results:
            self._put(self._results, key, item)

    def assume(self, known: Any) -> None:
        """Take what :meth:`kept` gave an earlier process, read back from authenticated storage; start recording.

        Whatever this process held before is forgotten first: a process that builds
        one repo and then another (an API host) must not carry the first repo's
        template texts and values into the second's state.  The build calls
        :meth:`clear` once its state is saved, so nothing records after it."""
        self.clear()
        self.recording = True
        if not isinstance(known, dict):
            return
        for entry in _list(known.get("reads"))[-MAX_ENTRIES:]:
            found = _found(entry)
            if found is not None:
                self._put(self._reads, (entry[0], entry[1]), found)
        for entry in _list(known.get("results"))[-MAX_ENTRIES:]:
            if (type(entry) is list and len(entry) == 2 and type(entry[0]) is str
                    and len(entry[0]) <= MAX_ENTRY_CHARS and _untag(entry[1]) is not MISS):
                self._put(self._results, entry[0], entry[1])

    def _note_fresh(self, is_read: bool, key: Any) -> None:
        self._fresh.append((is_read, key))
        if len(self._fresh) > 4 * MAX_ENTRIES:  # nobody drains (an in-place build, a host): keep what is held
            self._fresh = self._held()

    def _held(self) -> list[tuple[bool, Any]]:
        """``_fresh`` without repeats (each at its last place, as the tables order them) or dropped entries."""
        last: dict[tuple[bool, Any], None] = {}
        for item in self._fresh:
            last.pop(item, None)
            last[item] = None
        return [(r, k) for r, k in last if k in (self._reads if r else self._results)]

    @staticmethod
    def _put(table: dict[Any, Any], key: Any, value: Any) -> None:
        table.pop(key, None)
        table[key] = value
        while len(table) > MAX_ENTRIES:
            del table[next(iter(table))]


def _list(value: Any) -> list[Any]:
    return value if type(value) is list else []


def _strings(value: Any) -> bool:
    return type(value) is list and all(type(s) is str for s in value)


def _found(entry: Any) -> Found | None:
    """A kept reads entry ``[text, whole, chains, names, bound]`` as :func:`reads` answers, or None."""
    if not (type(entry) is list and len(entry) == 5 and type(entry[0]) is str and type(entry[1]) is bool
            and type(entry[2]) is list and all(_strings(c) and c for c in entry[2])
            and _strings(entry[3]) and _strings(entry[4])):
        return None
    if len(json.dumps(entry, ensure_ascii=False)) > MAX_ENTRY_CHARS:
        return None
    return tuple(tuple(c) for c in entry[2]), tuple(entry[3]), frozenset(entry[4])


KEPT = KeptRenders()
