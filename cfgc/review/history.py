"""The history of one resolved value: which commits changed it, and how.

``git log`` finds the commits that touched any file the target's value can
come from (its hierarchy layers, cfgc.yaml, the prompt library); each is
compiled from git objects together with its first parent, and only the
commits where the resolved value really changed are kept.  A change in a base
layer that a service file overrides is therefore not reported, and a change
through ``$extends`` or a template is.  Secrets are compared by reference and
ciphertext; credentials and SOPS values are shown as their
:mod:`cfgc.secrets.redact` markers (equal values, equal markers within one run).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

from cfgc.base.errors import CfgcError, ExternalError, InputError
from cfgc.base.jsonvalue import JSONObject
from cfgc.base.loading import Path
from cfgc.compile.merging import MISSING, get_path
from cfgc.repo.sources import CONFIG_FILE, GitSource
from cfgc.review.diff import Side, is_secret
from cfgc.secrets.redact import redact, sensitive_strings

BROKEN: Any = object()  # the target did not compile at that commit


@dataclass(frozen=True)
class HistoryEntry:
    """One commit that changed the value (before/after may be MISSING or BROKEN)."""

    commit: str
    author: str
    date: str
    subject: str
    before: Any
    after: Any
    secret: bool


def _git(root: FsPath, *args: str) -> str:
    try:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              check=True, timeout=120).stdout
    except subprocess.CalledProcessError as e:
        raise ExternalError(f"git {args[0]} failed: {e.stderr.strip()}") from None
    except FileNotFoundError:
        raise ExternalError("git is not installed") from None


class _Resolver:
    """Resolves the target's value at a commit, once per commit."""

    def __init__(self, root: FsPath, target: str, path: Path) -> None:
        self.root, self.target, self.path = root, target, path
        self._cache: JSONObject = {}
        self.known: set[str] = set()  # sensitive strings of every version resolved

    def __call__(self, commit: str | None) -> Any:
        if commit is None:
            return MISSING
        if commit not in self._cache:
            self._cache[commit] = self._resolve(commit)
        return self._cache[commit]

    def _resolve(self, commit: str) -> Any:
        try:
            side = Side(GitSource(self.root, commit, "cfgc history"))
            spec = next((s for s in side.compiler.specs() if s.name == self.target), None)
            if spec is None:
                return MISSING
            value = side.comparable(side.compiler.compile(spec).value)
        except CfgcError:
            return BROKEN
        self.known |= sensitive_strings(value)
        return get_path(value, self.path)


def pathspecs(root: FsPath, target: str) -> list[str]:
    """The files the target can read, as git pathspecs (globs kept)."""
    side = Side(GitSource(root, "HEAD", "cfgc history"))
    spec = next((s for s in side.compiler.specs() if s.name == target), None)
    if spec is None:
        raise InputError(f"no target {target!r} at HEAD")
    bindings = spec.variables
    out = [CONFIG_FILE]
    for level in side.compiler.config.hierarchy:
        p = level.pattern
        for var, val in bindings.items():
            p = p.replace("{" + var + "}", val)
        out.append(p)
    if side.compiler.config.prompts:
        out.append(side.compiler.config.prompts + "/")
    return out


def value_history(root: FsPath, target: str, path: Path, max_count: int = 20) -> list[HistoryEntry]:
    """Commits that changed ``target``'s value at ``path``, newest first."""
    specs = pathspecs(root, target)
    log = _git(root, "log", "--format=%H%x1f%P%x1f%an%x1f%aI%x1f%s", "--", *specs)
    resolve = _Resolver(root, target, path)
    entries: list[HistoryEntry] = []
    for line in log.splitlines():
        commit, parents, author, date, subject = line.split("\x1f", 4)
        parent = parents.split()[0] if parents.split() else None
        after, before = resolve(commit), resolve(parent)
        if _same(before, after):
            continue
        secret = is_secret(before) or is_secret(after)
        shown_before, shown_after = redact(before, path, resolve.known), redact(after, path, resolve.known)
        entries.append(HistoryEntry(commit, author, date, subject, shown_before, shown_after, secret))
        if len(entries) >= max_count:
            break
    return entries


def _same(a: object, b: object) -> bool:
    return a is b or (a is not MISSING and a is not BROKEN and b is not MISSING and b is not BROKEN
                      and a == b and type(a) is type(b))


def entry_json(e: HistoryEntry) -> JSONObject:
    """One entry as JSON; a SOPS value carries ``secret: true``; redacted values are markers."""
    doc: JSONObject = {"commit": e.commit, "author": e.author, "date": e.date, "subject": e.subject}
    if e.secret:
        doc["secret"] = True
    doc["before"] = _json_value(e.before)
    doc["after"] = _json_value(e.after)
    return doc


def _json_value(v: Any) -> Any:
    if v is MISSING:
        return None
    if v is BROKEN:
        return {"error": "did not compile"}
    return v

