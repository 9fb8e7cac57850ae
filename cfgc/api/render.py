"""What the commands print with: the report renderers over the API's results, and value markers.

Each function is the one the matching command uses, so a tool that calls the
API prints exactly what ``cfgc`` prints.  The renderers load on first call
(the ``diff`` renderer, for one, pulls in what a ``build`` does not need).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

if TYPE_CHECKING:
    from cfgc.base.diagnostics import Diagnostic
    from cfgc.review.checks import CheckResult
    from cfgc.review.diff import DiffResult
    from cfgc.review.history import HistoryEntry


def diagnostics_text(diags: Sequence[Diagnostic]) -> str:
    """One ``path:line:col: severity: message`` line per finding."""
    from cfgc.review.report.diagnostics import render_text

    return render_text(diags)


def diagnostics_json(diags: Sequence[Diagnostic], targets: Sequence[str], **extra: Any) -> str:
    """The ``--format json`` document of findings over ``targets``; ``extra`` keys are added to it."""
    from cfgc.review.report.diagnostics import render_json

    return render_json(diags, targets, **extra)


def summary_line(diags: Sequence[Diagnostic], targets: int) -> str:
    """``N errors, M warnings in T targets``: the last line of a text report."""
    from cfgc.review.report.diagnostics import summary_line as line

    return line(diags, targets)


def github_annotations(diags: Sequence[Diagnostic], root: Path, states: Sequence[str] = ()) -> str:
    """GitHub workflow commands annotating each finding (paths made relative to the git work tree of ``root``)."""
    from cfgc.review.report.github import git_prefix, render_github

    return render_github(diags, git_prefix(root), states)


def sarif(diags: Sequence[Diagnostic], root: Path, states: Sequence[str] = ()) -> str:
    """A SARIF 2.1.0 log of the findings (paths relative to the git work tree of ``root``)."""
    from cfgc.review.report.github import git_prefix
    from cfgc.review.report.sarif import render_sarif

    return render_sarif(diags, git_prefix(root), states)


def check_markdown(result: CheckResult, *, fail_on_existing: bool = False) -> str:
    """A ``cfgc check`` result as a pull-request comment."""
    from cfgc.review.report.markdown import check_markdown as markdown

    return markdown(result, fail_on_existing=fail_on_existing)


def diff_text(result: DiffResult) -> str:
    """A ``cfgc diff`` result as text: blast radius, then each changed value."""
    from cfgc.review.report.diff import render_text

    return render_text(result)


def diff_markdown(result: DiffResult) -> str:
    """A ``cfgc diff`` result as a pull-request comment."""
    from cfgc.review.report.diff import render_markdown

    return render_markdown(result)


def diff_json(result: DiffResult) -> str:
    """A ``cfgc diff`` result as its ``--format json`` document."""
    from cfgc.review.report.diff import render_json

    return render_json(result)


def history_json(entry: HistoryEntry) -> dict[str, Any]:
    """One ``cfgc history`` entry as JSON: absent is null, a side that did not compile an ``error``."""
    from cfgc.review.history import entry_json

    return entry_json(entry)


def is_absent(value: object) -> bool:
    """True for the marker of a value no layer sets (deleted, or not there at that commit)."""
    from cfgc.compile.merging import MISSING

    return value is MISSING


def did_not_compile(value: object) -> bool:
    """True for the marker of a ``cfgc history`` side whose target did not compile."""
    from cfgc.review.history import BROKEN

    return value is BROKEN


def is_redacted(value: object) -> TypeGuard[str]:
    """True when ``value`` is a ``<redacted hmac:…>`` marker standing for a credential or SOPS value."""
    from cfgc.secrets.redact import MARKER

    return isinstance(value, str) and MARKER.fullmatch(value) is not None
