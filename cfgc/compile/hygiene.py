"""Secrets hygiene checks over a config repo (rule ``secrets``).

* **Plaintext credentials** in the YAML/JSON files the hierarchy could load
  (everything but the schema folders and ``.sops.yaml``): a known credential
  format is an error, a high-entropy value under a secret-sounding key a
  warning.  In SOPS files only the values left in clear (``_unencrypted``
  suffix, rules such as ``encrypted_regex``) are looked at.
* **Recipient drift**: an encrypted file whose master keys differ from those
  its creation rule in the repo root's ``.sops.yaml`` names now.
* **Stale secrets**: ``sops.lastmodified`` older than ``secrets.max_age_days``.

Messages name files, key paths and the kind of credential, never a value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Iterator
from functools import partial
from typing import Any

from cfgc.base.diagnostics import Diagnostic
from cfgc.base.errors import InputError, Location
from cfgc.base.loading import Document, load_yaml
from cfgc.base.parallel import fan_out
from cfgc.base.secretrefs import is_sops_document
from cfgc.base.tags import Append, Prepend, Replace
from cfgc.base.yaml_fast import CANDIDATE_LENGTH
from cfgc.repo.config import RepoConfig
from cfgc.repo.sources import Source
from cfgc.secrets.creation_rules import (
    CONFIG_NAMES,
    CreationRule,
    key_drift,
    match_rule,
    parse_rules,
)
from cfgc.secrets.metadata import SopsMetadata
from cfgc.secrets.scan import MIN_ENTROPY_LENGTH, Hit, classify

RULE = "secrets"
SOPS_KEY = "sops"
EXTENSIONS = (".yaml", ".yml", ".json")
KeyPath = tuple[str | int, ...]


def hygiene_findings(
    source: Source,
    config: RepoConfig,
    now: dt.datetime | None = None,
    scanned: Collection[str] = (),
) -> list[Diagnostic]:
    """Every secrets finding for the repo, in file order.

    ``scanned`` names plain files whose values a compiler already checked for
    credentials (:meth:`cfgc.compile.compiler.Compiler.document` does it as it loads
    layers); they are not read again.  SOPS files are always checked here.
    """
    when = now or dt.datetime.now(dt.UTC)
    rules, out = _creation_rules(source)
    paths = [p for p in candidate_files(source, config) if p not in scanned]

    def scan_files(chunk: list[str]) -> list[Diagnostic]:
        found: list[Diagnostic] = []
        for path in chunk:
            doc = _load(source, path)
            if doc is None:
                continue
            encrypted = is_sops_document(doc.data)
            found += plaintext_findings(doc, encrypted)
            if encrypted:
                found += _sops_checks(doc, rules, config, when)
        return found

    # Files are independent: a repo checked for a few targets still has
    # every other file to scan, on every core, in file order.
    for part in fan_out(scan_files, paths):
        out += part
    return out


def _sops_checks(
    doc: Document, rules: list[CreationRule] | None, config: RepoConfig, now: dt.datetime
) -> list[Diagnostic]:
    try:
        meta = SopsMetadata.from_dict(doc.data[SOPS_KEY])
    except InputError as e:
        return [_diag("warning", f"unreadable sops metadata: {e.message}", doc, (SOPS_KEY,))]
    out: list[Diagnostic] = []
    if rules is not None:
        out += drift_findings(doc, meta, rules)
    if config.max_secret_age_days is not None:
        out += age_findings(doc, meta, config.max_secret_age_days, now)
    return out


def candidate_files(source: Source, config: RepoConfig) -> list[str]:
    """YAML/JSON files outside the schema folders (and not ``.sops.yaml``)."""
    schema_dirs = {s.schema.rsplit("/", 1)[0] + "/" for s in config.schemas if "/" in s.schema}
    out = []
    for path in source.files():
        parts = path.split("/")
        if not path.lower().endswith(EXTENSIONS) or parts[-1] in CONFIG_NAMES:
            continue
        if "schemas" in parts[:-1] or any(path.startswith(d) for d in schema_dirs):
            continue
        out.append(path)
    return out


def _load(source: Source, path: str) -> Document | None:
    try:
        raw = source.read(path)
        if path.lower().endswith(".json"):
            # JSON strings cannot hold a raw tab, so outside them a tab is
            # whitespace: a space keeps every line and column.
            raw = raw.replace(b"\t", b" ")
        # Values only (the fast path when the file allows it): positions are
        # parsed again, from the same bytes, only for a file with a finding.
        doc = load_yaml(raw, path, reload=lambda: raw)
    except InputError:
        return None  # syntax errors are reported by the compiler (rule yaml)
    return doc if isinstance(doc.data, dict) else None


def _creation_rules(source: Source) -> tuple[list[CreationRule] | None, list[Diagnostic]]:
    files = set(source.files())
    name = next((n for n in CONFIG_NAMES if n in files), None)
    if name is None:
        return None, []
    try:
        return parse_rules(source.read(name), name), []
    except InputError as e:
        msg = f"{e.message}; recipient drift is not checked"
        return None, [Diagnostic("error", msg, Location(name, 1, 1), RULE)]


def candidates(doc: Document) -> Iterable[tuple[KeyPath, str]]:
    """The string leaves of ``doc`` that could be credentials, each with its key path.

    Those the fast YAML path collected as it built the value when it did
    (``Document.scanned``, for this very data), else found by a walk.
    """
    scanned = doc.scanned
    if scanned is not None and scanned[0] is doc.data and _SAME_LENGTH:
        return scanned[1]
    return _walk(doc.data, ())


# The fast path's candidates are this scan's only while both agree on the length.
_SAME_LENGTH = CANDIDATE_LENGTH == MIN_ENTROPY_LENGTH


def _walk(node: Any, path: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    """String leaves that could be credentials (every build runs this: keep it lean)."""
    found: list[tuple[KeyPath, str]] = []
    near = next((p for p in reversed(path) if isinstance(p, str)), None)
    _collect(node, path, near, found, set())
    return iter(found)


def _collect(node: Any, path: KeyPath, near: str | None, found: list[tuple[KeyPath, str]], seen: set[Any]) -> None:
    # A YAML alias is the same Python object at every place it appears.  What
    # a value is judged by is the value and its nearest key name, so each
    # (object, nearest key) is scanned once, at its first path: the scan costs
    # the file's size, not the size of the aliases' expansion.
    is_dict = type(node) is dict
    items: Any = node.items() if is_dict else enumerate(node) if type(node) is list or type(node) is tuple else ()
    for k, v in items:
        t = type(v)
        if t is str:
            if len(v) >= MIN_ENTROPY_LENGTH or "@" in v:  # shorter strings can match nothing
                mark = (id(v), k if is_dict else near)
                if mark not in seen:
                    seen.add(mark)
                    found.append(((*path, k), v))
        elif t is dict or t is list:
            mark = (id(v), None if t is dict else k if is_dict else near)
            if mark not in seen:
                seen.add(mark)
                _collect(v, (*path, k), k if is_dict else near, found, seen)
        elif is_dict and (t is Append or t is Prepend or t is Replace):
            # A merge tag's values reach the target as any other (!append [sk-...]):
            # scanned at the key that holds the tag, as if it were not there.  Marked
            # by the tag's own value (alive as long as the document: a copy's id could
            # be reused by the next tag's copy and pass for seen).
            inner = v.value if t is Replace else v.items
            mark = (id(inner), k)
            if mark not in seen:
                seen.add(mark)
                if type(inner) is str:
                    if len(inner) >= MIN_ENTROPY_LENGTH or "@" in inner:
                        found.append(((*path, k), inner))
                elif type(inner) is dict or type(inner) is list or type(inner) is tuple:
                    _collect(inner, (*path, k), k, found, seen)


def format_path(path: KeyPath) -> str:
    """``providers.openai.api_key``, ``headers[0].value``."""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


# Bounds of the memo a caller may pass to plaintext_findings: at most
# MEMO_ENTRIES pairs, of values up to MEMO_MAX_CHARS characters.
MEMO_ENTRIES = 4096
MEMO_MAX_CHARS = 256
_UNSEEN: Any = object()


def plaintext_findings(
    doc: Document, encrypted: bool = False, memo: dict[tuple[str | None, str], Hit | None] | None = None
) -> list[Diagnostic]:
    """Credentials written in clear in ``doc`` (the ``sops`` block of SOPS files excluded).

    ``memo`` keeps what :func:`~cfgc.secrets.scan.classify` said of each
    (key name, value) pair, a pure function of the pair: layer files repeat
    the same values under the same keys (one endpoint URL in a thousand
    service files), so a caller that scans many files judges each pair once.
    It stays within :data:`MEMO_ENTRIES` pairs of values up to
    :data:`MEMO_MAX_CHARS` characters.
    """
    out = []
    for path, value in candidates(doc):
        if encrypted and path[:1] == (SOPS_KEY,):
            continue
        # The nearest key name: usually the last key (a generator per candidate cost 0.8 µs).
        key = path[-1] if path and type(path[-1]) is str else next((p for p in reversed(path) if isinstance(p, str)), None)
        if memo is None:
            hit = classify(key, value)
        else:
            hit = memo.get((key, value), _UNSEEN)
            if hit is _UNSEEN:
                hit = classify(key, value)
                if len(value) <= MEMO_MAX_CHARS and len(memo) < MEMO_ENTRIES:
                    memo[(key, value)] = hit
        if hit is None:
            continue
        what = (
            "plaintext credential" if hit.severity == "error" else "possible plaintext credential"
        )
        fix = (
            "the file's SOPS rule leaves this key unencrypted; rename the key or change the rule, "
            "then 'cfgc secrets rotate' it"
            if encrypted
            else "encrypt this file with 'cfgc secrets encrypt'"
        )
        msg = f"{what} ({hit.kind}) under '{format_path(path)}'; {fix}"
        out.append(_diag(hit.severity, msg, doc, path))
    return out


def drift_findings(
    doc: Document, meta: SopsMetadata, rules: list[CreationRule]
) -> list[Diagnostic]:
    """A warning when the file's keys are not those its creation rule names now."""
    rule = match_rule(rules, doc.path)
    if rule is None:
        msg = "no creation rule in .sops.yaml matches this encrypted file; 'cfgc secrets updatekeys' cannot maintain it"
        return [_diag("warning", msg, doc, (SOPS_KEY,))]
    drift = key_drift(meta, rule)
    if not drift.drifted:
        return []
    parts = []
    if drift.added:
        parts.append("not yet encrypted for " + ", ".join(drift.added))
    if drift.removed:
        parts.append("still encrypted for " + ", ".join(drift.removed))
    if not parts:
        parts.append("key groups or shamir_threshold differ")
    msg = (
        f"recipients differ from the .sops.yaml creation rule ({'; '.join(parts)}); "
        f"run 'cfgc secrets updatekeys {doc.path}'"
    )
    if drift.removed:
        msg += f", then 'cfgc secrets rotate {doc.path}'"
    return [_diag("warning", msg, doc, (SOPS_KEY,))]


def parse_time(text: str) -> dt.datetime | None:
    """An RFC 3339 timestamp as sops writes it, or None if it is not one."""
    try:
        t = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)


def age_findings(
    doc: Document, meta: SopsMetadata, max_days: int, now: dt.datetime
) -> list[Diagnostic]:
    """A warning when the file was last modified more than ``max_days`` ago."""
    where = (SOPS_KEY, "lastmodified")
    when = parse_time(meta.lastmodified)
    if when is None:
        return [_diag("warning", "sops.lastmodified is not an RFC 3339 time", doc, where)]
    age = now - when
    if age <= dt.timedelta(days=max_days):
        return []
    msg = (
        f"secrets last modified {age.days} days ago ({meta.lastmodified}), more than "
        f"secrets.max_age_days ({max_days}); run 'cfgc secrets rotate {doc.path}' "
        "and rotate the credentials themselves"
    )
    return [_diag("warning", msg, doc, where)]


def _diag(severity: str, message: str, doc: Document, path: KeyPath) -> Diagnostic:
    return Diagnostic(severity, message, doc.location(path), RULE)


def sops_file_findings(
    source: Source, config: RepoConfig, files: dict[str, bytes], now: dt.datetime | None = None
) -> list[Diagnostic]:
    """Recipient drift and staleness of the SOPS documents a build uses."""
    if not files:
        return []
    now = now or dt.datetime.now(dt.UTC)
    rules, out = _creation_rules(source)
    for path in sorted(files):
        # Positions on first use, from the same bytes (a finding needs them; none usually does).
        doc = load_yaml(files[path], path, reload=partial(bytes, files[path]))
        out += _sops_checks(doc, rules, config, now)
    return out
