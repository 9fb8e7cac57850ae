"""Markdown for pull requests: the check findings and the diff in one comment.

The comment opens with a one-line verdict, then the findings table (each
with its file:line and the targets it affects), then the diff's blast radius
and per-target changes (:func:`cfgc.report.diff.render_markdown`).
"""

from __future__ import annotations

from cfgc.checks import CheckResult
from cfgc.diagnostics import count
from cfgc.diff import DiffResult
from cfgc.report.diff import render_markdown as diff_markdown

MAX_FINDINGS = 50


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def check_markdown(result: CheckResult) -> str:
    """The findings of ``cfgc check`` as a markdown section."""
    diags = result.diagnostics
    e, w = count(diags, "error"), count(diags, "warning")
    n = len(result.targets)
    if not diags:
        return f"### Config check: ✅ passed ({n} targets)\n"
    icon = "❌" if e else "⚠️"
    head = f"### Config check: {icon} {e} error{'s' if e != 1 else ''}, {w} warning{'s' if w != 1 else ''} ({n} targets)"
    out = [head, "", "| | location | rule | finding | targets |", "| --- | --- | --- | --- | --- |"]
    ordered = sorted(diags, key=lambda d: d.severity != "error")  # errors first, stable
    for d in ordered[:MAX_FINDINGS]:
        sev = "❌" if d.severity == "error" else "⚠️"
        loc = f"`{d.location}`" if d.location else ""
        targets = ", ".join(d.targets[:3]) + (f" +{len(d.targets) - 3}" if len(d.targets) > 3 else "")
        out.append(f"| {sev} | {loc} | {d.rule} | {_cell(d.message)} | {_cell(targets)} |")
    if len(diags) > MAX_FINDINGS:
        out.append(f"| | | | … {len(diags) - MAX_FINDINGS} more findings | |")
    return "\n".join(out) + "\n"


def pr_comment(check: CheckResult | None, diff: DiffResult | None) -> str:
    """The whole pull-request comment (without the sticky marker)."""
    parts = ["## cfgc"]
    if check is not None:
        parts.append(check_markdown(check))
    if diff is not None:
        parts.append(diff_markdown(diff))
    return "\n".join(p.rstrip("\n") + "\n" for p in parts)
