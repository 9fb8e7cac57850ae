"""Markdown for pull requests: the check findings and the diff in one comment.

The comment opens with a one-line verdict, then the findings table (each
with its file:line and the targets it affects), then the diff's blast radius
and per-target changes (:func:`cfgc.review.report.diff.render_markdown`).

With a base comparison the findings are split in two tables: those the pull
request introduces and those already on the base; the verdict counts the new
ones.  ``link`` turns a location into a URL (the line at the head commit).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from cfgc.base.diagnostics import Diagnostic, count
from cfgc.base.errors import Location
from cfgc.review.checks import CheckResult
from cfgc.review.diff import DiffResult
from cfgc.review.report.diff import render_markdown as diff_markdown

MAX_FINDINGS = 50

Linker = Callable[[Location], str]


def _cell(text: str) -> str:
    # Messages come from the repo (policy text, file names): no raw HTML, so a
    # message cannot close the <details> block or hide the rest of the comment.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace("|", "\\|").replace("\n", " ")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _table(diags: Sequence[Diagnostic], link: Linker | None) -> list[str]:
    out = ["| | location | rule | finding | targets |", "| --- | --- | --- | --- | --- |"]
    ordered = sorted(diags, key=lambda d: d.severity != "error")  # errors first, stable
    for d in ordered[:MAX_FINDINGS]:
        sev = "❌" if d.severity == "error" else "⚠️"
        loc = ""
        if d.location:
            loc = f"`{_cell(str(d.location))}`"
            if link is not None:
                loc = f"[{loc}]({link(d.location)})"
        targets = ", ".join(d.targets[:3]) + (f" +{len(d.targets) - 3}" if len(d.targets) > 3 else "")
        out.append(f"| {sev} | {loc} | {d.rule} | {_cell(d.message)} | {_cell(targets)} |")
    if len(diags) > MAX_FINDINGS:
        out.append(f"| | | | … {len(diags) - MAX_FINDINGS} more findings | |")
    return out


def check_markdown(result: CheckResult, link: Linker | None = None, fail_on_existing: bool = False) -> str:
    """The findings of ``cfgc check`` as a markdown section."""
    diags = result.diagnostics
    n = len(result.targets)
    if not diags:
        return f"### Config check: ✅ passed ({n} targets)\n"
    if not result.states:
        e, w = count(diags, "error"), count(diags, "warning")
        icon = "❌" if e else "⚠️"
        head = f"### Config check: {icon} {_plural(e, 'error')}, {_plural(w, 'warning')} ({n} targets)"
        return "\n".join([head, "", *_table(diags, link)]) + "\n"
    new = [d for i, d in enumerate(diags) if result.states[i] == "new"]
    old = [d for i, d in enumerate(diags) if result.states[i] != "new"]
    e, w = count(new, "error"), count(new, "warning")
    icon = "❌" if result.failing(fail_on_existing) else "⚠️" if new else "✅"
    out = [f"### Config check: {icon} {_plural(e, 'new error')}, {_plural(w, 'new warning')} ({n} targets)", ""]
    if new:
        out += ["#### Introduced by this pull request", "", *_table(new, link), ""]
    if old:
        fails = "and fail the check" if fail_on_existing and count(old, "error") else "and do not fail the check"
        out += ["<details><summary>" + _plural(len(old), "finding") + f" already on the base ({fails})</summary>",
                "", *_table(old, link), "", "</details>"]
    return "\n".join(out).rstrip("\n") + "\n"


def pr_comment(check: CheckResult | None, diff: DiffResult | None, link: Linker | None = None,
               fail_on_existing: bool = False) -> str:
    """The whole pull-request comment (without the sticky marker)."""
    parts = ["## cfgc"]
    if check is not None:
        parts.append(check_markdown(check, link, fail_on_existing))
    if diff is not None:
        parts.append(diff_markdown(diff))
    return "\n".join(p.rstrip("\n") + "\n" for p in parts)
