"""``cfgc check``: every finding about a config repo in one pass.

The findings come from four places, all located at a real file:line:col:

* validation: what ``cfgc validate`` reports (YAML, merge, $extends,
  templates, prompts, schemas);
* secret hygiene (:mod:`cfgc.compile.hygiene`, when installed);
* built-in LLM checks: ``routing.default_model`` and ``routing.fallbacks``
  name models under ``models`` and the fallback chain has no cycle (including
  per-model ``fallback``/``fallbacks`` links); pinned prompt references such
  as ``summarize@1.2.0`` exist in the prompt library; a template that declares
  its variables in a leading ``{# variables: a, b #}`` comment uses no others;
* the repo's Rego policies (:mod:`cfgc.review.policy`).

Each target's findings are kept between runs (:mod:`cfgc.review.check_cache`):
a target whose inputs did not change is not compiled again.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path as PathLib
from typing import Any

from cfgc.base.diagnostics import Diagnostic, group
from cfgc.base.errors import CfgcError
from cfgc.base.loading import Path
from cfgc.base.parallel import fan_out
from cfgc.bundle.cache_index import default_cache_dir
from cfgc.compile.compiler import CompiledTarget, Compiler
from cfgc.compile.hygiene import hygiene_findings
from cfgc.repo.config import RepoConfig
from cfgc.repo.sources import Source
from cfgc.review.check_ahead import keyed, shared_layers
from cfgc.review.check_cache import CheckCache, Entry, EntryKeys, keepable_text
from cfgc.review.llm_prompts import prompt_ref_findings, template_variable_findings
from cfgc.review.policy import PolicySet
from cfgc.review.policy_cache import PolicyCache


@dataclass(frozen=True)
class CheckResult:
    """The findings of a check run and the targets it looked at."""

    diagnostics: tuple[Diagnostic, ...]
    targets: tuple[str, ...]
    changed: frozenset[str] | None  # None without --base

    # With a base: per finding, "new" (this change introduces it) or
    # "unchanged" (already on the base); empty without a base to compare.
    states: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when no finding is an error (warnings do not fail)."""
        return not any(d.severity == "error" for d in self.diagnostics)

    def state(self, i: int) -> str | None:
        """The baseline state of finding ``i`` (None without a base)."""
        return self.states[i] if self.states else None

    def failing(self, fail_on_existing: bool = False) -> list[Diagnostic]:
        """The errors that fail the check: by default only the new ones, and
        secret-hygiene errors always (a plaintext credential stays exposed
        for as long as it is in the repo, whoever added it)."""
        return [d for i, d in enumerate(self.diagnostics) if d.severity == "error"
                and (fail_on_existing or self.state(i) != "unchanged" or d.rule == "secrets")]


_LINE_REFS = re.compile(r":\d+(?::\d+)?\b|\blines? \d+(?:[-–]\d+)?")


def _key(d: Diagnostic) -> tuple[str, str, str]:
    # Line numbers are left out so a finding whose line merely moved is not new.
    return d.rule, d.location.path if d.location else "", _LINE_REFS.sub("", d.message)


def baseline_states(head: Sequence[Diagnostic], base: Sequence[Diagnostic]) -> tuple[str, ...]:
    """"unchanged" for each head finding the base already had (same rule,
    file, message without line numbers, and every one of its targets), else "new"."""
    seen: dict[tuple[str, str, str], set[str]] = {}
    for d in base:
        seen.setdefault(_key(d), set()).update(d.targets)
    return tuple("unchanged" if _key(d) in seen and set(d.targets) <= seen[_key(d)] else "new" for d in head)


def _base_findings(base: Source, select: str | None, cache: bool | PathLike[str],
                   jobs: int | None) -> tuple[Diagnostic, ...]:
    try:
        return run_checks(base, select, cache=cache, jobs=jobs).diagnostics
    except CfgcError:
        return ()  # no config or no such targets on the base: everything is new


def hygiene(source: Source, config: RepoConfig, scanned: Collection[str] = ()) -> list[Diagnostic]:
    """Secret hygiene findings (:mod:`cfgc.compile.hygiene`).

    ``scanned``: plain layer files the compiler already checked for credentials.
    """
    try:
        return hygiene_findings(source, config, scanned=scanned)
    except CfgcError as e:
        return [Diagnostic.from_error(e, "secrets")]


def fallback_findings(target: CompiledTarget) -> list[Diagnostic]:
    """Routing names existing models and the fallback chain has no cycle."""
    value = target.value if type(target.value) is dict else {}
    routing, models = value.get("routing"), value.get("models")
    if type(routing) is not dict:
        return []
    names = set(models) if type(models) is dict else set()
    have = ", ".join(sorted(names)) or "none"
    out: list[Diagnostic] = []

    def err(msg: str, path: Path) -> None:
        out.append(Diagnostic("error", msg, target.provenance.locate(path), "llm.routing", (target.name,)))

    chain: list[tuple[str, Path]] = []
    default = routing.get("default_model")
    if default is not None:
        chain.append((str(default), ("routing", "default_model")))
    fallbacks = routing.get("fallbacks")
    if fallbacks is not None and type(fallbacks) is not list:
        err("routing.fallbacks must be a list of model names", ("routing", "fallbacks"))
    elif fallbacks:
        chain += [(str(m), ("routing", "fallbacks", i)) for i, m in enumerate(fallbacks)]
    seen: dict[str, Path] = {}
    for name, path in chain:
        if name not in names:
            err(f"{_dotted(path)} names model {name!r}, which is not under models (have: {have})", path)
        elif name in seen:
            loop = " → ".join([*(n for n, _ in chain[: chain.index((name, path))]), name])
            err(f"fallback chain loops back to {name!r} ({loop})", path)
        seen.setdefault(name, path)
    if type(models) is dict:
        out += _model_cycles(target, models)
    return out


def _model_cycles(target: CompiledTarget, models: dict[str, Any]) -> list[Diagnostic]:
    edges: dict[str, list[tuple[str, Path]]] = {}
    for m, spec in models.items():
        if type(spec) is not dict:
            continue
        for key in ("fallback", "fallbacks"):
            v = spec.get(key)
            items = v if type(v) is list else [v] if type(v) is str else []
            for i, n in enumerate(items):
                p: Path = ("models", m, key, i) if type(v) is list else ("models", m, key)
                edges.setdefault(m, []).append((str(n), p))
    out: list[Diagnostic] = []
    for start, links in edges.items():
        for nxt, path in links:
            if nxt not in models:
                out.append(Diagnostic("error", f"{_dotted(path)} names model {nxt!r}, which is not under models",
                                      target.provenance.locate(path), "llm.routing", (target.name,)))
            elif _reaches(edges, nxt, start):
                out.append(Diagnostic("error", f"fallback cycle: {start} → {nxt} → … → {start}",
                                      target.provenance.locate(path), "llm.routing", (target.name,)))
    return out


def _reaches(edges: dict[str, list[tuple[str, Path]]], start: str, goal: str) -> bool:
    todo, seen = [start], set()
    while todo:
        n = todo.pop()
        if n == goal:
            return True
        if n not in seen:
            seen.add(n)
            todo.extend(m for m, _ in edges.get(n, []))
    return False


def run_checks(source: Source, select: str | None = None, base: Source | None = None,
               delta: Any = None, cache: bool | PathLike[str] = True, jobs: int | None = None) -> CheckResult:
    """Run every check on ``source``; ``base`` (or an already computed
    :class:`cfgc.review.diff.DiffResult` ``delta``) marks targets as changed or not.

    With ``base`` the base is checked too and each finding is marked new or
    unchanged (:func:`baseline_states`).

    ``cache`` (True: the build cache folder, :func:`default_cache_dir`; a
    folder; False: none) keeps each target's findings between runs
    (:mod:`cfgc.review.check_cache`) and the Rego results of the targets
    checked again (:mod:`cfgc.review.policy_cache`).  ``jobs``: worker
    processes (default: :func:`cfgc.base.parallel.fan_out`'s)."""
    compiler = Compiler(source)
    changed: frozenset[str] | None = None
    if delta is None and base is not None:
        from cfgc.review.diff import compare

        delta = compare(base, source, select)
    if delta is not None:
        changed = frozenset(t.name for t in delta.targets)
    policies = PolicySet(source, compiler.config.policies)
    diags: list[Diagnostic] = list(policies.errors)
    folder = _cache_folder(source, cache)
    # Keyed before the schemas load, which then parse the very bytes the key hashed.
    keyer = EntryKeys(compiler, policies.digest, changed) if folder is not None else None
    try:
        compiler.schemas  # noqa: B018 - a bad schema is one finding, before any target
    except CfgcError as e:
        found = tuple(group([*diags, Diagnostic.from_error(e, "schema")]))
        states = baseline_states(found, _base_findings(base, select, cache, jobs)) if base is not None else ()
        return CheckResult(found, (), changed, states)
    specs = compiler.selected(select)
    kept = CheckCache(folder) if folder is not None else None
    results = _policy_cache(policies, folder)
    if kept is not None and results is not None and results.damaged:
        kept.distrust()
    # Nothing kept (a cold check): every target is checked, and keyed by the
    # worker that checks it rather than all first, here, on one core.
    late = kept is not None and kept.empty
    keys: list[str | None] = [keyer.key(s) for s in specs] if keyer is not None and not late else [None] * len(specs)
    entries: list[Entry | None] = [None] * len(specs)
    todo: list[int] = []
    for i, (spec, key) in enumerate(zip(specs, keys, strict=True)):
        hit = kept.get(key, spec.name) if kept is not None and key is not None else None
        if hit is None:
            todo.append(i)
        entries[i] = hit

    # The prompt library is loaded whole here, before any worker forks: every
    # worker then inherits it (and Jinja2) instead of loading what its
    # targets pin, and the repo-wide prompt findings cost nothing at the end.
    # Only loads that succeed are kept, so a target sees what it saw before.
    library: list[Diagnostic] = []
    try:
        compiler.prompts.all()
    except CfgcError as e:
        library.append(Diagnostic.from_error(e, "prompt"))
    library += template_variable_findings(compiler.prompts)

    pinned: dict[str, bool] = {}  # prompt_ref_findings' memo: one library for the run
    shared = shared_layers(specs)

    def check_chunk(chunk: list[int]) -> tuple[list[tuple[int, Entry, str | None, bytes | None]], dict[str, Any]]:
        # Each entry with its key and the form the cache keeps (encoded and
        # checked here, on every core, rather than in the parent).
        out: list[tuple[int, Entry, str | None, bytes | None]] = []
        # A cold check keys its targets here, a burst ahead of their compiles (check_ahead).
        for i, key in keyed(keyer if late else None, compiler.source, specs, chunk, keys):
            spec = specs[i]
            t, found = compiler.try_compile(spec)
            if t is not None:
                found += compiler.validate(t)
                found += fallback_findings(t)
                found += prompt_ref_findings(t, compiler.prompts, pinned)
                found += policies.evaluate(t, None if changed is None else t.name in changed, results)
            entry = Entry(spec.name, t is not None, compiler.loaded_plain(spec), tuple(found))
            out.append((i, entry, key, keepable_text(entry) if key is not None else None))
            # As a build does: 10,000 own files kept parsed cost memory and every full
            # collection's walk (one another target layers on stays: shared_layers).
            if spec.layers[-1] not in shared:
                compiler.release(spec)
        # A forked worker's new results go back to the parent, which saves them.
        return out, results.added if results is not None else {}

    # A large repo is checked on every core (workers inherit the loaded
    # policies and schemas); results are merged in target order.
    for part, added in (fan_out(check_chunk, todo, jobs=jobs) if todo else ()):
        for i, entry, key, raw in part:
            entries[i] = entry
            if kept is not None and key is not None:
                kept.put_raw(key, raw)
        if results is not None:
            results.merge(added)
    if results is not None:
        results.save()
    if kept is not None:
        kept.save()
    done = [e for e in entries if e is not None]
    names = [e.name for e in done if e.compiled]
    scanned = {p for e in done for p in e.plain_files}
    diags += [d for e in done for d in e.findings]
    diags += library
    diags += hygiene(source, compiler.config, scanned)
    found = tuple(group(diags))
    states = baseline_states(found, _base_findings(base, select, cache, jobs)) if base is not None else ()
    return CheckResult(found, tuple(names), changed, states)


def _cache_folder(source: Source, cache: bool | PathLike[str]) -> PathLib | None:
    if cache is False:
        return None
    return default_cache_dir(source) if cache is True else PathLib(cache)


def _policy_cache(policies: PolicySet, folder: PathLib | None) -> PolicyCache | None:
    return PolicyCache(folder, policies.digest) if policies.active and folder is not None else None


def _dotted(path: Path) -> str:
    from cfgc.compile.merging import dotted

    return dotted(path)
