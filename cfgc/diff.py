"""Semantic diffs: which compiled targets a change reaches, and how.

Both sides are compiled (the base from git objects, the head from git objects
or the working tree) and compared as data with deepdiff, never as text.  Each
changed path is reported with its before and after value and the head-side
source line that set it.  Secrets are compared by reference *and* by the
ciphertext of their leaf, so a rotated secret shows as exactly one path, and
is reported by path only: no value, no ciphertext.

Only the targets that the changed files can reach are compiled: a change to a
service file compiles that one target, a change to an environment layer
compiles the targets below it, and a change to cfgc.yaml or the prompt library
compiles everything.
"""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from deepdiff import DeepDiff

from cfgc.compiler import CompiledTarget, Compiler
from cfgc.config import RepoConfig
from cfgc.diagnostics import Diagnostic
from cfgc.errors import CfgcError, Location
from cfgc.hierarchy import TargetSpec
from cfgc.loading import Path
from cfgc.merging import MISSING, get_path
from cfgc.secretrefs import SecretRef
from cfgc.sources import CONFIG_FILE, DirSource, GitSource, Source

SECRET_TOKEN = "\x00cfgc-secret:"


@dataclass(frozen=True)
class Change:
    """One changed leaf: ``before``/``after`` are MISSING where absent."""

    path: Path
    before: Any
    after: Any
    source: Location | None
    secret: bool = False

    @property
    def kind(self) -> str:
        """``added``, ``removed`` or ``changed``."""
        if self.before is MISSING:
            return "added"
        return "removed" if self.after is MISSING else "changed"


@dataclass(frozen=True)
class TargetDiff:
    """One target that differs between base and head."""

    name: str
    status: str  # added, removed, changed
    vars: dict[str, str]
    production: bool
    changes: tuple[Change, ...] = ()


@dataclass(frozen=True)
class DiffResult:
    """Every target that differs, plus what was needed to find them."""

    base: str
    head: str
    variables: tuple[str, ...]
    targets: tuple[TargetDiff, ...]
    changed_files: tuple[str, ...]
    compiled: int  # targets compiled on the head side
    total: int  # targets on the head side
    errors: tuple[Diagnostic, ...] = field(default=())

    def summary(self) -> dict[str, Any]:
        """The blast radius: counts by status, by hierarchy variable, production."""
        by_var: dict[str, dict[str, int]] = {v: {} for v in self.variables}
        for t in self.targets:
            for var, val in t.vars.items():
                bucket = by_var.setdefault(var, {})
                bucket[val] = bucket.get(val, 0) + 1
        return {
            "changed_targets": len(self.targets),
            "total_targets": self.total,
            "compiled_targets": self.compiled,
            "added": sum(t.status == "added" for t in self.targets),
            "removed": sum(t.status == "removed" for t in self.targets),
            "changed": sum(t.status == "changed" for t in self.targets),
            "by_variable": {v: dict(sorted(c.items())) for v, c in by_var.items()},
            "production": [t.name for t in self.targets if t.production],
            "changed_files": list(self.changed_files),
        }


def is_production(name: str, variables: dict[str, str], config: RepoConfig) -> bool:
    """Production-like: matches a ``production`` glob, or (by default) has a
    hierarchy variable whose value contains 'prod'."""
    if config.production:
        return any(fnmatch.fnmatchcase(name, g) for g in config.production)
    return any("prod" in v for v in variables.values())


def changed_files(base: Source, head: Source) -> list[str]:
    """Files that differ between two sources (blob ids when both are git)."""
    if isinstance(base, GitSource) and isinstance(head, GitSource):
        a, b = base._index(), head._index()
        return sorted(p for p in set(a) | set(b) if p not in a or p not in b or a[p].hexsha != b[p].hexsha)
    a_files, b_files = set(base.files()), set(head.files())
    out = a_files ^ b_files
    for p in a_files & b_files:
        if _blob_id(base, p) != _blob_id(head, p):
            out.add(p)
    return sorted(out)


def _blob_id(source: Source, path: str) -> str:
    if isinstance(source, GitSource):
        return str(source._index()[path].hexsha)
    data = source.read(path)
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def reached(compiler: Compiler, changed: set[str], select: str | None) -> list[TargetSpec]:
    """The targets of one side that the changed files can reach."""
    specs = compiler.specs(select)
    prompts = (compiler.config.prompts or "\0") + "/"
    if CONFIG_FILE in changed or any(p.startswith(prompts) for p in changed):
        return specs
    return [s for s in specs if not changed.isdisjoint(s.layers)]


class Side:
    """One side of a diff: its compiler and the SOPS documents it read."""

    def __init__(self, source: Source) -> None:
        self.compiler = Compiler(source)
        self._sops: dict[str, Any] = {}

    def comparable(self, value: Any) -> Any:
        """The value with each secret as a token of its reference and ciphertext."""
        t = type(value)
        if t is SecretRef:
            return self._token(value)
        if t is dict:
            return {k: self.comparable(v) for k, v in value.items()}
        if t is list:
            return [self.comparable(v) for v in value]
        return value

    def _token(self, ref: SecretRef) -> str:
        doc = self._sops.get(ref.file)
        if doc is None:
            raw = self.compiler.secret_files.get(ref.file, b"")
            doc = self._sops[ref.file] = yaml.safe_load(raw) if raw else {}
        enc = get_path(doc, ref.path)
        digest = hashlib.sha256(repr((ref.file, ref.path, ref.type, enc)).encode()).hexdigest()
        return SECRET_TOKEN + digest


def is_secret(value: Any) -> bool:
    """Whether a comparable value stands for (or, as a list, holds) a secret."""
    if type(value) is list:
        return any(is_secret(v) for v in value)
    return type(value) is str and value.startswith(SECRET_TOKEN)


def compare(base: Source, head: Source, select: str | None = None,
            base_name: str = "base", head_name: str = "working tree") -> DiffResult:
    """Compile what the change reaches on both sides and compare it."""
    files = changed_files(base, head)
    changed = set(files)
    b, h = Side(base), Side(head)
    b_specs = {s.name: s for s in reached(b.compiler, changed, select)} if changed else {}
    h_specs = {s.name: s for s in reached(h.compiler, changed, select)} if changed else {}
    config = h.compiler.config
    diffs: list[TargetDiff] = []
    errors: list[Diagnostic] = []
    for name in sorted(set(b_specs) | set(h_specs)):
        before = _compile(b, b_specs.get(name), errors, "warning", "at the base: ")
        after = _compile(h, h_specs.get(name), errors, "error", "")
        spec = h_specs.get(name) or b_specs[name]
        prod = is_production(name, spec.variables, config)
        if before is None and after is None:
            continue
        if before is None:
            if name not in b_specs:
                diffs.append(TargetDiff(name, "added", spec.variables, prod))
            continue
        if after is None:
            if name not in h_specs:
                diffs.append(TargetDiff(name, "removed", spec.variables, prod))
            continue
        changes = diff_targets(b, before, h, after)
        if changes:
            diffs.append(TargetDiff(name, "changed", spec.variables, prod, tuple(changes)))
    return DiffResult(base_name, head_name, config.variables, tuple(diffs), tuple(files),
                      len(h_specs), len(h.compiler.specs(select)), tuple(errors))


def _compile(side: Side, spec: TargetSpec | None, errors: list[Diagnostic], severity: str,
             prefix: str) -> CompiledTarget | None:
    if spec is None:
        return None
    try:
        return side.compiler.compile(spec)
    except CfgcError as e:
        errors.append(Diagnostic(severity, prefix + e.message, e.location, "compile", (spec.name,)))
        return None


def diff_targets(b: Side, before: CompiledTarget, h: Side, after: CompiledTarget) -> list[Change]:
    """The changed leaves of one target, located on the head side."""
    left, right = b.comparable(before.value), h.comparable(after.value)
    tree = DeepDiff(left, right, view="tree", verbose_level=2)
    roots: set[Path] = set()
    for levels in tree.values():
        for level in levels:
            roots.add(_collapse(tuple(level.path(output_format="list")), left, right))
    out: dict[Path, Change] = {}
    for root in sorted(roots, key=_sort_key):
        ls = dict(_leaves(get_path(left, root), root))
        rs = dict(_leaves(get_path(right, root), root))
        for p in [*ls, *(k for k in rs if k not in ls)]:
            x, y = ls.get(p, MISSING), rs.get(p, MISSING)
            if p in out or (x == y and type(x) is type(y)):
                continue
            loc = after.provenance.locate(p)
            out[p] = Change(p, x, y, loc, is_secret(x) or is_secret(y))
    return [out[p] for p in sorted(out, key=_sort_key)]


def _collapse(path: Path, left: Any, right: Any) -> Path:
    """A change inside a list of scalars is reported as the whole list."""
    for i, key in enumerate(path):
        if type(key) is int and (_scalar_list(get_path(left, path[:i])) or _scalar_list(get_path(right, path[:i]))):
            return path[:i]
    return path


def _scalar_list(value: Any) -> bool:
    return type(value) is list and all(type(v) not in (dict, list) for v in value)


def _leaves(value: Any, path: Path) -> Iterator[tuple[Path, Any]]:
    if value is MISSING:
        return
    if type(value) is dict and value:
        for k, v in value.items():
            yield from _leaves(v, (*path, k))
    elif type(value) is list and value and not _scalar_list(value):
        for i, v in enumerate(value):
            yield from _leaves(v, (*path, i))
    else:
        yield path, value


def _sort_key(path: Path) -> tuple[tuple[int, str], ...]:
    return tuple((0, f"{k:09d}") if type(k) is int else (1, str(k)) for k in path)


def open_sides(root: Any, base_ref: str, head_ref: str | None) -> tuple[Source, Source]:
    """The base commit and the head (a commit, or the working tree)."""
    base = GitSource(root, base_ref)
    head: Source = GitSource(root, head_ref) if head_ref else DirSource(root)
    return base, head
