"""One chunk of the targets a diff compares: each from its records or compiled,
compared, and recorded for the next diff (:func:`cfgc.review.diff.compare`)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from cfgc.base.diagnostics import Diagnostic
from cfgc.compile.compiler import CompiledTarget
from cfgc.repo.config import RepoConfig
from cfgc.repo.hierarchy import TargetSpec
from cfgc.review.diff_encode import Encoder
from cfgc.review.diff_entry import Record, Unlocated
from cfgc.review.diff_leaves import LeafMemo
from cfgc.review.diff_result import TargetDiff, is_production, target_diff
from cfgc.review.diff_validation import as_base
from cfgc.review.diff_values import Change, Compared, Memo, Side, whole_target

# (changed targets, findings, new records, their subtrees, targets compiled)
Part = tuple[list[TargetDiff], list[Diagnostic], list[tuple[str, list[Any]]], dict[str, Any], int]


@dataclass(frozen=True)
class Run:
    """What every chunk of one diff shares (forked workers inherit it)."""

    b: Side | None
    h: Side
    b_all: Mapping[str, TargetSpec]
    h_all: Mapping[str, TargetSpec]
    b_recs: Mapping[str, Record]
    h_recs: Mapping[str, Record]
    b_keys: Mapping[str, str]
    h_keys: Mapping[str, str]
    b_exact: Callable[[Collection[str]], bool] | None
    h_exact: Callable[[Collection[str]], bool] | None
    equal_keys: frozenset[str]
    changed: set[str]
    config: RepoConfig
    # cfgc.review.diff.diff_targets, looked up there (its tests replace what it calls)
    diff_targets: Callable[..., list[Change]]


def chunk_diff(run: Run, chunk: list[str]) -> Part:
    """Compare the targets of ``chunk`` (on a forked worker, or in this process)."""
    b, h, b_all, h_all, b_recs, h_recs = run.b, run.h, run.b_all, run.h_all, run.b_recs, run.h_recs
    b_keys, h_keys, b_exact, h_exact = run.b_keys, run.h_keys, run.b_exact, run.h_exact
    config, changed = run.config, run.changed
    diff_targets = run.diff_targets
    diffs: list[TargetDiff] = []
    errors: list[Diagnostic] = []
    memo: Memo = {}
    leaf_memo = LeafMemo()
    enc = Encoder()
    new: list[tuple[str, list[Any]]] = []
    compiles = 0  # a result with none is a function of the records alone (cfgc.review.diff_memo)

    def compile_(side: Side | None, spec: TargetSpec | None, base: bool) -> CompiledTarget | None:
        nonlocal compiles
        compiles += side is not None and spec is not None
        return _compile(side, spec, errors, base)

    def keep(side: Side, keys: Mapping[str, str], target: CompiledTarget | None, found: list[Diagnostic],
             changes: list[Change] | None = None) -> None:
        key = keys.get(target.name) if target is not None else None
        if key is None or target is None:
            return
        exact, specs = (b_exact, b_all) if side is b else (h_exact, h_all)
        if exact is None or not exact(specs[target.name].layers):
            return  # compiled from other bytes than the key names: not recorded
        tokens = {ref: side._token(ref) for _, ref in target.refs}
        located = {c.path: c.source for c in changes or ()}
        raw = enc.record(target.name, target.value, target.refs, target.secrets, tokens, found, located)
        if raw is not None:
            new.append((key, raw))

    for name in chunk:
        b_spec, h_spec = b_all.get(name), h_all.get(name)
        if name in run.equal_keys and h_spec is not None:  # equal keys: both sides list it
            rec = h_recs.get(name)
            if rec is not None:
                errors += [*(as_base(d) for d in rec.findings), *rec.findings]
                continue
            compiles += 1
            errors += _unchanged_findings(h, h_spec, lambda t, f: keep(h, h_keys, t, f))
            continue
        before: Compared | None = b_recs.get(name)
        after: Compared | None = h_recs.get(name)
        b_found = h_found = None
        if before is None:
            before = compiled_b = compile_(b, b_spec, base=True)
            if compiled_b is not None and b is not None:
                b_found = b.validator.findings(compiled_b)
                keep(b, b_keys, compiled_b, b_found)
        else:
            assert isinstance(before, Record)
            b_found = list(before.findings)
        if b_found is not None:
            errors += [as_base(d) for d in b_found]
        if after is None:
            after = compiled_h = compile_(h, h_spec, base=False)
            if compiled_h is not None:
                h_found = h.validator.findings(compiled_h)
        else:
            assert isinstance(after, Record)
            compiled_h, h_found = None, list(after.findings)
        if h_found is not None:
            errors += h_found
        spec = h_spec or b_spec
        assert spec is not None
        variables = spec.variables
        prod = is_production(name, variables, config)
        if after is None and h_spec is not None:
            continue  # the head does not compile: reported as an error
        if before is None or after is None or b is None:  # (no base side: no before)
            # Added, removed, or the base did not compile: every value of
            # the side that exists, so nothing it sets goes unseen.
            status = "removed" if after is None else "added" if b_spec is None else "changed"
            if after is None:
                try:
                    changes = whole_target(b, before)
                except Unlocated:  # a record of the base side: its locations are compiled
                    changes = whole_target(b, compile_(b, b_spec, base=True))
            else:
                try:
                    changes = whole_target(h, after, added=True)
                except Unlocated:  # the record lacks a location: compile the head
                    compiled_h = compile_(h, h_spec, base=False)
                    changes = whole_target(h, compiled_h, added=True)
                if compiled_h is not None and h_found is not None:
                    keep(h, h_keys, compiled_h, h_found, changes)
            diffs.append(target_diff(name, status, variables, prod, tuple(changes)))
            continue
        try:
            changes = diff_targets(b, before, h, after, memo, changed, leaf_memo)
        except Unlocated:  # the record lacks a location: compile the head
            compiled_h = compile_(h, h_spec, base=False)
            if compiled_h is None:  # (only a template out of its time budget: the load)
                continue
            changes = diff_targets(b, before, h, compiled_h, memo, changed)
        if compiled_h is not None and h_found is not None:
            keep(h, h_keys, compiled_h, h_found, changes)
        if changes:
            diffs.append(target_diff(name, "changed", variables, prod, tuple(changes)))
    return diffs, errors, new, enc.subtrees, compiles


def _compile(side: Side | None, spec: TargetSpec | None, errors: list[Diagnostic],
             base: bool) -> CompiledTarget | None:
    if spec is None or side is None:
        return None
    target, failed = side.compiler.try_compile(spec)
    errors += [as_base(d) for d in failed] if base else failed
    return target


def _unchanged_findings(side: Side, spec: TargetSpec,
                        keep: Callable[[CompiledTarget, list[Diagnostic]], None]) -> list[Diagnostic]:
    """The findings of a target with equal keys on both sides, in the order of a
    compile of each side: its head-side findings are also its base-side ones."""
    target, failed = side.compiler.try_compile(spec)
    found = side.validator.findings(target) if target is not None else []
    if target is not None:
        keep(target, found)
    return [*(as_base(d) for d in failed), *failed, *(as_base(d) for d in found), *found]
