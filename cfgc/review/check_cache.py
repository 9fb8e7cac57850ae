"""Each target's complete ``cfgc check`` findings, kept between runs.

Checking an unchanged target again compiles it with provenance, validates it,
runs the LLM checks and asks the policies the same questions: most of a warm
check of a large repo.  The findings of one target are a function of

- its build cache key (:class:`cfgc.bundle.target_keys.TargetKeys`): the cfgc
  and library versions, cfgc.yaml (which gives the target its variables), the
  template limits in force, every schema, every prompt template of the library
  (pinned references are checked against its file list), the path and content
  of each of its layer files in order, and its name;
- the policy set (:attr:`cfgc.review.policy.PolicySet.digest`: every loaded
  policy's path and text and the regopy version; empty when no policy runs);
- whether it is changed (``input.changed``: None without ``--base``, else
  true or false);
- the installed schema validators (jsonschema, jsonschema-rs, referencing),
  which word schema findings and which the target key leaves out (they never
  shape a built target's bytes): the path, size and mtime of each one's
  ``__init__`` (no import), changing with every install.

Nothing else of :func:`cfgc.review.checks.run_checks` reaches a target's
findings: ``--target`` only selects targets, the output format and
``--fail-on-existing`` only shape the report.  So an entry is kept under the
digest of those four, and holds the target's findings (with their
locations), whether it compiled, and the plain layer files its compile loaded
(checked for credentials then, so secret hygiene does not read them again).
Repo-wide findings (policy load errors, the prompt library, templates'
declared variables, hygiene of files no target reads) are not kept: they are
computed on every run.  A target whose findings include a template running
out of its time budget is never kept: that depends on the machine's load; nor
is one whose policy evaluation failed (as :mod:`cfgc.review.policy_cache`
does not keep that failure).

The file lives in the build cache folder and is as untrusted as the rest of
it (:mod:`cfgc.bundle.cache_index`): authenticated with HMAC-SHA256 under the
same key (which never lives in the cache folder) before its bytes are parsed,
parsed as JSON only within :data:`MAX_FILE_BYTES` and :data:`MAX_ENTRIES`,
and every entry's shape checked.  A file that fails any of these is ignored
(every target is checked) and overwritten; so is every entry when the Rego
results beside it (:mod:`cfgc.review.policy_cache`) fail theirs.  Entries are kept least recently
used first; a save keeps at most :data:`KEEP_FACTOR` times the targets of
the run (at least :data:`MIN_KEEP`), so the head and the base of a
``--base`` run both stay.

Layout::

    cfgc-check-cache 1\\n
    <hex HMAC-SHA256 of the magic line and the body>\\n
    <body: JSON {"cfgc": version, "entries": {entry key: [name, compiled, [plain files], [finding...]]}}>

A finding is ``[severity, message, path or null, line, col, rule, [targets]]``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from cfgc import __version__
from cfgc.base.diagnostics import Diagnostic
from cfgc.base.errors import Location
from cfgc.bundle.cache_index import cache_key, load_entry

# Re-exported: the entry keys lived here (cfgc.review.check_keys).
from cfgc.review.check_keys import EntryKeys as EntryKeys
from cfgc.review.check_keys import entry_key as entry_key
from cfgc.review.check_keys import entry_keys as entry_keys
from cfgc.review.check_keys import validator_versions as validator_versions
from cfgc.review.sealed import read_sealed, write_sealed

MAGIC = b"cfgc-check-cache 1\n"
FILE_NAME = "check-results"
MAX_FILE_BYTES = 256 * 1024 * 1024  # a bigger file is not ours
MAX_ENTRIES = 2_000_000  # entries read; a file with more is not ours
KEEP_FACTOR = 3  # a save keeps this many times the run's targets (LRU)
MIN_KEEP = 1_000
_DIGEST = re.compile(r"[0-9a-f]{64}")
_SEVERITIES = frozenset({"error", "warning"})
_TIME_BUDGET = "limits.template_seconds"  # in the message of a template that ran out of time
_REGO_FAILED = "Rego evaluation failed: "  # regopy could not evaluate (cfgc.review.policy)


@dataclass(frozen=True)
class Entry:
    """What one target's check found: ``compiled`` False when it did not compile."""

    name: str
    compiled: bool
    plain_files: tuple[str, ...]
    findings: tuple[Diagnostic, ...]


class CheckCache:
    """The entries of one cache folder, loaded at creation and written by :meth:`save`."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / FILE_NAME
        self._raw: dict[str, Any] = {}
        self._used: dict[str, Any] = {}
        self._changed = False
        self._key: bytes | None = None
        try:
            self._key = cache_key()
            self._raw = self._read(self._key)
        except (OSError, ValueError, RecursionError):  # no key can be kept, no file, or not ours
            self._raw = {}

    def _read(self, key: bytes) -> dict[str, Any]:
        doc = load_entry(read_sealed(self.path, MAGIC, key, MAX_FILE_BYTES))
        if not isinstance(doc, dict) or doc.get("cfgc") != __version__:
            return {}
        entries = doc.get("entries")
        if not isinstance(entries, dict) or len(entries) > MAX_ENTRIES:
            return {}
        return entries

    def distrust(self) -> None:
        """Use none of the entries read: another file of the folder failed its
        authentication, so something other than cfgc wrote into it."""
        self._raw = {}

    def get(self, key: str, name: str) -> Entry | None:
        """The entry of target ``name`` under ``key``, or None (absent or malformed)."""
        raw = self._raw.get(key) if _DIGEST.fullmatch(key) else None
        if type(raw) is bytes:  # put here as its text (keepable_text)
            raw = orjson.loads(raw)
        entry = _decode(raw) if raw is not None else None
        if entry is None or entry.name != name:
            return None
        self._used[key] = raw
        return entry

    @property
    def empty(self) -> bool:
        """Whether no entry was read (no file, not ours, or distrusted): every target is checked."""
        return not self._raw

    def put(self, key: str, entry: Entry) -> None:
        """Record what this run found for one target (saved by :meth:`save`)."""
        self.put_raw(key, keepable(entry))

    def put_raw(self, key: str, raw: list[Any] | bytes | None) -> None:
        """:meth:`put` of an entry already in :func:`keepable`'s form, or its
        JSON text (:func:`keepable_text`: a worker's); None keeps nothing."""
        if raw is not None:
            self._used[key] = raw
            self._changed = True

    def save(self) -> None:
        """Write the file when this run added entries; failures are ignored (it is a cache)."""
        if not self._changed or self._key is None:
            return
        keep = max(MIN_KEEP, KEEP_FACTOR * len(self._used))
        old = [(k, v) for k, v in self._raw.items() if k not in self._used]
        # Least recently used first: this run's entries last, the oldest dropped.
        merged = dict([*old[max(0, len(old) - (keep - len(self._used))):], *self._used.items()])
        body = _body(merged)
        if not write_sealed(self.path, MAGIC, self._key, body):
            return
        self._raw, self._changed = merged, False


def _body(entries: dict[str, Any]) -> bytes:
    """``orjson.dumps({"cfgc": __version__, "entries": entries})``, with each
    entry kept as text (:func:`keepable_text`) written as it is: orjson's
    compact text of a dict is its items' texts joined, so the bytes are the same."""
    dumps = orjson.dumps
    parts = [dumps(k) + b":" + (v if type(v) is bytes else dumps(v)) for k, v in entries.items()]
    return b'{"cfgc":' + dumps(__version__) + b',"entries":{' + b",".join(parts) + b"}}"


def keepable_text(entry: Entry) -> bytes | None:
    """:func:`keepable`'s form of ``entry`` as JSON text, or None.  A worker sends
    this back: bytes (un)pickle in a fraction of the time of nested lists, and
    :meth:`CheckCache.save` writes them as they are."""
    raw = _keepable_raw(entry)
    return raw[1] if raw is not None else None


def keepable(entry: Entry) -> list[Any] | None:
    """The JSON form :meth:`CheckCache.put` keeps for ``entry``, or None when it is not kept."""
    raw = _keepable_raw(entry)
    return raw[0] if raw is not None else None


def _keepable_raw(entry: Entry) -> tuple[list[Any], bytes] | None:
    if any(_TIME_BUDGET in d.message or (d.rule == "policy" and d.message.startswith(_REGO_FAILED))
           for d in entry.findings):
        return None  # a time-out depends on the machine's load; a failed evaluation is not kept as its result is not
    # Kept only if it reads back as the same entry.  A round trip
    # (``_decode(orjson.loads(orjson.dumps(raw))) == entry``) cost a quarter
    # of what a worker does for a target beyond compiling it; the same answer
    # comes from the exact types :func:`_decode` accepts and equality needs
    # (tuples stay tuples) and one ``orjson.dumps``, which refuses what JSON
    # cannot carry back (lone surrogates, integers beyond 64 bits).  Anything
    # else, a subclass included, is not kept (tests/unit/review/test_check_keepable.py).
    if not _exact(entry):
        return None
    raw = _encode(entry)
    try:
        text = orjson.dumps(raw)
    except TypeError:
        return None
    return raw, text


def _exact(entry: Entry) -> bool:
    """Whether every field of ``entry`` has the exact type :func:`_decode` rebuilds it with."""
    if (type(entry) is not Entry or type(entry.name) is not str or type(entry.compiled) is not bool
            or type(entry.plain_files) is not tuple or not all(type(f) is str for f in entry.plain_files)
            or type(entry.findings) is not tuple):
        return False
    for d in entry.findings:
        loc = d.location
        if (type(d) is not Diagnostic or type(d.severity) is not str or d.severity not in _SEVERITIES
                or type(d.message) is not str or type(d.rule) is not str or type(d.targets) is not tuple
                or not all(type(t) is str for t in d.targets)):
            return False
        if loc is not None and (type(loc) is not Location or type(loc.path) is not str
                                or type(loc.line) is not int or type(loc.col) is not int):
            return False
    return True


def _encode(entry: Entry) -> list[Any]:
    return [entry.name, entry.compiled, list(entry.plain_files), encode_findings(entry.findings)]


def encode_findings(findings: Sequence[Diagnostic]) -> list[Any]:
    """The JSON form of findings (also :mod:`cfgc.review.diff_cache`'s)."""
    return [[d.severity, d.message, d.location.path if d.location else None,
             d.location.line if d.location else 0, d.location.col if d.location else 0, d.rule, list(d.targets)]
            for d in findings]


def _decode(raw: Any) -> Entry | None:
    """An entry from its JSON form, or None when anything in it is not as :func:`_encode` writes it."""
    if type(raw) is not list or len(raw) != 4:
        return None
    name, compiled, files, found = raw
    if type(name) is not str or type(compiled) is not bool or not _strs(files):
        return None
    out = decode_findings(found)
    return None if out is None else Entry(name, compiled, tuple(files), tuple(out))


def decode_findings(found: Any) -> list[Diagnostic] | None:
    """Findings from :func:`encode_findings`' form, or None when anything in it is not as it writes it."""
    if type(found) is not list:
        return None
    out = []
    for f in found:
        if type(f) is not list or len(f) != 7:
            return None
        sev, msg, path, line, col, rule, targets = f
        if (sev not in _SEVERITIES or type(msg) is not str or not (path is None or type(path) is str)
                or type(line) is not int or type(col) is not int or type(rule) is not str or not _strs(targets)):
            return None
        loc = Location(path, line, col) if path is not None else None
        out.append(Diagnostic(sev, msg, loc, rule, tuple(targets)))
    return out


def _strs(v: Any) -> bool:
    return type(v) is list and all(type(x) is str for x in v)

