"""Text, markdown and JSON renderers for ``cfgc diff``.

The blast radius comes first (how many targets, which tenants and
environments, which production targets), then each target's changed paths
with before → after and the file:line that set the new value; an added target shows every value
it sets, a removed one every value it had.  Credentials and SOPS values
arrive here already redacted (:mod:`cfgc.secrets.redact`) and print as
``<redacted hmac:1a2b3c4d>``: equal values give equal markers within one run.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from cfgc.compile.merging import MISSING, dotted
from cfgc.review.diff import Change, DiffResult, TargetDiff
from cfgc.review.diff_validation import BASE_PREFIX
from cfgc.review.gc_phases import collector_paused
from cfgc.review.report.diagnostics import diagnostic_json
from cfgc.review.report.json_text import exact, indented
from cfgc.secrets.redact import MARKER

_MARK = {"added": "+", "removed": "-", "changed": "~"}
MAX_VALUE = 80
MAX_NAMES = 10


def _some(names: list[str], wrap: str = "") -> str:
    more = len(names) - MAX_NAMES
    shown = ", ".join(f"{wrap}{n}{wrap}" for n in names[:MAX_NAMES])
    return shown + (f" and {more} more" if more > 0 else "")


def summary(result: DiffResult) -> dict[str, Any]:
    """The blast radius: counts by status, by hierarchy variable, production."""
    ts = result.targets
    by_var = {v: Counter(t.vars[v] for t in ts if v in t.vars) for v in result.variables}
    return {
        "changed_targets": len(ts),
        "total_targets": result.total,
        "compiled_targets": result.compiled,
        **{status: sum(t.status == status for t in ts) for status in ("added", "removed", "changed")},
        "by_variable": {v: dict(sorted(c.items())) for v, c in by_var.items()},
        "production": [t.name for t in ts if t.production],
        "changed_files": list(result.changed_files),
    }


def value_text(value: object) -> str:
    """A value as compact JSON, ``(absent)`` when missing, shortened when long."""
    if value is MISSING:
        return "(absent)"
    if type(value) is str and MARKER.fullmatch(value):
        return value
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def change_text(c: Change) -> str:
    """``before → after`` (redacted values as their markers)."""
    return f"{value_text(c.before)} → {value_text(c.after)}"


def headline(result: DiffResult) -> str:
    """``3 of 11 targets changed (1 added, 2 changed)``."""
    s = summary(result)
    n = s["changed_targets"]
    if not n:
        return f"no target changed ({s['total_targets']} targets)"
    parts = [f"{s[k]} {k}" for k in ("added", "removed", "changed") if s[k]]
    return f"{n} of {s['total_targets']} targets changed ({', '.join(parts)})"


def validation_line(result: DiffResult) -> str | None:
    """``the head does not validate: 2 errors`` (and the base's findings), or None when clean."""
    errors = sum(d.severity == "error" for d in result.errors)
    base = sum(d.message.startswith(BASE_PREFIX) for d in result.errors)
    parts = []
    if errors:
        parts.append(f"the head does not validate: {errors} error{'s' if errors != 1 else ''} (cfgc validate fails)")
    if base:
        parts.append(f"{base} finding{'s' if base != 1 else ''} at the base")
    return "; ".join(parts) or None


def _radius(result: DiffResult) -> list[tuple[str, str]]:
    s = summary(result)
    rows = []
    for var, counts in s["by_variable"].items():
        items = list(counts.items())
        if len(items) > MAX_NAMES:  # the biggest groups first
            items = sorted(items, key=lambda kv: -kv[1])
        more = f" and {len(items) - MAX_NAMES} more" if len(items) > MAX_NAMES else ""
        if items:
            rows.append((var, ", ".join(f"{k} {v}" for k, v in items[:MAX_NAMES]) + more))
    return rows


def render_text(result: DiffResult) -> str:
    """The terminal form."""
    s = summary(result)
    lines = [f"cfgc diff {result.base} → {result.head}", headline(result)]
    check = validation_line(result)
    if check:
        lines.append(check)
    if s["production"]:
        lines.append(f"production: {len(s['production'])} ({_some(s['production'])})")
    lines += [f"  {var}: {text}" for var, text in _radius(result)]
    for t in result.targets:
        lines.append("")
        lines.append(f"{_MARK[t.status]} {t.name}" + ("  [production]" if t.production else ""))
        for c in t.changes:
            src = f"  ({c.source})" if c.source else ""
            lines.append(f"    {dotted(c.path)}: {change_text(c)}{src}")
    for d in result.errors:
        lines.append(str(d))
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    return "`" + text.replace("`", "'").replace("|", "\\|") + "`"


def render_markdown(result: DiffResult, max_changes: int = 50) -> str:
    """The pull-request form: blast radius table, then per-target details."""
    s = summary(result)
    out = [f"### Config diff: {headline(result)}", ""]
    check = validation_line(result)
    if check:
        icon = "❌" if any(d.severity == "error" for d in result.errors) else "⚠️"
        out += [f"**{icon} {_md(check[0].upper() + check[1:])}**", ""]
    if s["production"]:
        prod = _some(s["production"], "`")
        out += [f"**⚠️ {len(s['production'])} production target(s):** {prod}", ""]
    rows = _radius(result)
    if rows:
        out += ["| variable | changed targets |", "| --- | --- |"]
        out += [f"| {_md(var)} | {_md(text)} |" for var, text in rows]
        out.append("")
    for group in _groups(result.targets):
        out += _target_md(group, max_changes)
    if result.errors:
        out += ["#### Findings", ""]
    for d in result.errors:
        out.append(f"- {'❌' if d.severity == 'error' else '⚠️'} {_code(str(d))}")
    if result.errors:
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def _groups(targets: tuple[TargetDiff, ...]) -> list[list[TargetDiff]]:
    """Targets with identical changes share one section (a base-layer edit
    reaching 200 targets is one table, not 200)."""
    groups: dict[Any, list[TargetDiff]] = {}
    for t in targets:
        sig = (t.status, tuple((c.path, change_text(c), str(c.source)) for c in t.changes))
        groups.setdefault(sig if t.status == "changed" else (t.name,), []).append(t)
    return list(groups.values())


def _names(group: list[TargetDiff], shown: int = 5) -> str:
    names = [f"<b>{t.name}</b>" + (" (production)" if t.production else "") for t in group]
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {more} more" if more > 0 else "")


def _target_md(group: list[TargetDiff], max_changes: int) -> list[str]:
    t = group[0]
    n = len(t.changes)
    what = f"{n} change{'s' if n != 1 else ''}" if t.status == "changed" else f"**{t.status}**, {n} values"
    out = [f"<details><summary>{_names(group)}: {what}</summary>", "",
           "| path | before | after | source |", "| --- | --- | --- | --- |"]
    for c in t.changes[:max_changes]:
        before, after = _code(value_text(c.before)), _code(value_text(c.after))
        out.append(f"| {_code(dotted(c.path))} | {before} | {after} | {_code(str(c.source)) if c.source else ''} |")
    if n > max_changes:
        out.append(f"| … {n - max_changes} more | | | |")
    return [*out, "", "</details>", ""]


def change_json(c: Change) -> dict[str, Any]:
    """One change as JSON; a SOPS value carries ``secret: true``, a redacted
    value (:mod:`cfgc.secrets.redact`) is its marker and sets ``redacted: true``."""
    doc: dict[str, Any] = {"path": dotted(c.path), "kind": c.kind}
    if c.secret:
        doc["secret"] = True
    doc["before"] = None if c.before is MISSING else c.before
    doc["after"] = None if c.after is MISSING else c.after
    # A number, a boolean or null holds no marker: only text and containers are searched.
    if any(MARKER.search(json.dumps(v, default=str)) for v in (c.before, c.after)
           if v is not MISSING and type(v) not in _PLAIN):
        doc["redacted"] = True
    doc["source"] = str(c.source) if c.source else None
    return doc


_PLAIN = frozenset({int, float, bool, type(None)})


def _exact_value(value: object) -> bool:
    return value is MISSING or exact(value)  # absent is null


def diff_json(result: DiffResult) -> dict[str, Any]:
    """The machine-readable diff (unchanged targets omitted)."""
    targets = []
    # Targets share Change objects (a change that reaches thousands of them
    # the same way): each is written once and its JSON object shared.
    seen: dict[int, dict[str, Any]] = {}
    for t in result.targets:
        entry: dict[str, Any] = {"name": t.name, "status": t.status, "vars": t.vars, "production": t.production}
        changes = []
        for c in t.changes:
            doc = seen.get(id(c))
            if doc is None:
                doc = seen[id(c)] = change_json(c)
            changes.append(doc)
        entry["changes"] = changes
        targets.append(entry)
    return {
        "base": result.base,
        "head": result.head,
        "targets": targets,
        "summary": summary(result),
        # the head validates (as `cfgc validate` would say); base findings are warnings
        "ok": not any(d.severity == "error" for d in result.errors),
        "errors": [str(d) for d in result.errors],
        "diagnostics": [{**diagnostic_json(d), "side": "base" if d.message.startswith(BASE_PREFIX) else "head"}
                        for d in result.errors],
    }


def render_json(result: DiffResult) -> str:
    """:func:`diff_json` as indented text."""
    with collector_paused():  # one object per target and change, no cycle
        doc = diff_json(result)
    # The rest of the document is text, booleans and null by construction.
    checked = exact([doc["summary"], doc["errors"], doc["diagnostics"]]) and _targets_exact(result.targets)
    return indented(doc, checked)


def _targets_exact(targets: tuple[TargetDiff, ...]) -> bool:
    """Whether every target's variables and changed values are :func:`exact`
    (loops, no call per target but for what is new: 10,000 targets share most changes)."""
    seen: set[int] = set()  # changes found exact (targets share them; the result keeps each alive)
    for t in targets:
        tv = t.vars
        if type(tv) is dict:
            for k, v in tv.items():
                if type(k) is not str or type(v) is not str:
                    if not exact(tv):
                        return False
                    break
        elif not exact(tv):
            return False
        for c in t.changes:
            if id(c) not in seen:
                if not (_exact_value(c.before) and _exact_value(c.after)):
                    return False
                seen.add(id(c))
    return True
