"""The pull-request side of the GitHub Action (``python3 -m cfgc.review.github pr``).

In one process: run ``cfgc check`` and ``cfgc diff`` against the PR base,
print the findings as workflow commands (annotations on the changed lines),
append the markdown report to ``$GITHUB_STEP_SUMMARY``, set the step outputs
``changed-targets`` (a JSON list of target names), ``findings`` (how many),
``errors`` and ``new-errors`` in ``$GITHUB_OUTPUT``, and create or update ONE
sticky PR comment, recognised by a hidden marker, through the REST API at
``$GITHUB_API_URL`` with ``$GITHUB_TOKEN``.

The exit code reflects the findings only: 1 when the pull request introduces
an error (or, with ``--fail-on-existing``, when any error exists), after the
report is written.  A comment the API refuses (a fork's read-only token gets
HTTP 403) is a warning: the summary and annotations still carry the report.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from cfgc.base.bounded_read import read_file
from cfgc.base.errors import CfgcError, ExternalError, Location, UsageError

if TYPE_CHECKING:
    from cfgc.review.checks import CheckResult
    from cfgc.review.report.markdown import Linker

MARKER = "<!-- cfgc:sticky-comment -->"
MAX_BODY = 60000  # GitHub refuses comments over 65536 characters
MAX_REPLY = 16 * 1024 * 1024  # one API reply (a page of 100 comments is far less)


class APIError(ExternalError):
    """The REST API answered with an HTTP error status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class GitHubAPI:
    """The few REST calls the action needs (urllib, no dependencies)."""

    def __init__(self, api_url: str, token: str, repository: str) -> None:
        self.api_url = api_url.rstrip("/")
        self.token = token
        self.repository = repository

    def request(self, method: str, url: str, body: dict[str, Any] | None = None) -> tuple[Any, dict[str, str]]:
        """One JSON request; returns the decoded body and the headers."""
        if not url.startswith("http"):
            url = self.api_url + url
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method, headers={
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {self.token}",
            "X-GitHub-Api-Version": "2022-11-28",
            "Content-Type": "application/json",
            "User-Agent": "cfgc-action",
        })
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read(MAX_REPLY + 1)
                if len(raw) > MAX_REPLY:
                    raise ExternalError(f"GitHub API {method} {url}: a reply over {MAX_REPLY} bytes")
                return (json.loads(raw) if raw else None), dict(resp.headers)
        except urllib.error.HTTPError as e:
            raise APIError(f"GitHub API {method} {url}: HTTP {e.code} {e.read(200)!r}", e.code) from None
        except urllib.error.URLError as e:
            raise ExternalError(f"GitHub API {method} {url}: {e.reason}") from None

    def comments(self, number: int) -> list[dict[str, Any]]:
        """Every comment of an issue or pull request (following pagination)."""
        url: str | None = f"/repos/{self.repository}/issues/{number}/comments?per_page=100"
        out: list[dict[str, Any]] = []
        while url:
            page, headers = self.request("GET", url)
            out.extend(page or [])
            url = _next_link(headers.get("Link") or headers.get("link") or "")
        return out

    def upsert_comment(self, number: int, body: str, marker: str = MARKER) -> tuple[str, int]:
        """Create the sticky comment, or update it; returns (action, comment id)."""
        text = _with_marker(body, marker)
        for c in self.comments(number):
            if marker in (c.get("body") or ""):
                self.request("PATCH", f"/repos/{self.repository}/issues/comments/{c['id']}", {"body": text})
                return "updated", int(c["id"])
        made, _ = self.request("POST", f"/repos/{self.repository}/issues/{number}/comments", {"body": text})
        return "created", int(made["id"])


def _next_link(link: str) -> str | None:
    for part in link.split(","):
        if 'rel="next"' in part:
            return part.split(";")[0].strip().strip("<>")
    return None


def _with_marker(body: str, marker: str) -> str:
    if len(body) > MAX_BODY:
        body = body[:MAX_BODY] + "\n\n… (truncated; the full report is in the job summary)\n"
    return f"{marker}\n{body}"


def pr_number(event_path: str | None) -> int | None:
    """The pull request number from the event payload, if any."""
    if not event_path or not Path(event_path).is_file():
        return None
    event = json.loads(read_file(event_path))
    pr = event.get("pull_request") or {}
    number = pr.get("number") or event.get("number")
    return int(number) if number else None


def resolve_base(root: Path, name: str) -> str:
    """A git ref for the PR base: ``origin/<name>``, ``<name>``, or fetched."""
    def ok(ref: str) -> bool:
        r = subprocess.run(["git", "-C", str(root), "rev-parse", "--verify", "--quiet", ref + "^{commit}"],
                           capture_output=True, text=True)
        return r.returncode == 0

    for ref in (f"origin/{name}", name):
        if ok(ref):
            return ref
    r = subprocess.run(["git", "-C", str(root), "fetch", "--no-tags", "--depth=1", "origin", name],
                       capture_output=True, text=True)
    if r.returncode == 0 and ok("FETCH_HEAD"):
        return "FETCH_HEAD"
    raise ExternalError(f"cannot find the base ref {name!r}; check out with 'fetch-depth: 0'")


def set_outputs(values: dict[str, str]) -> None:
    """Append step outputs to ``$GITHUB_OUTPUT`` (single-line values)."""
    path = os.environ.get("GITHUB_OUTPUT")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            for k, v in values.items():
                f.write(f"{k}={v}\n")


def append_summary(markdown: str) -> None:
    """Append markdown to ``$GITHUB_STEP_SUMMARY``."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(markdown + "\n")


def line_linker(root: Path) -> Linker | None:
    """Locations as links to that line of the checked-out commit on GitHub.

    The commit is the one the findings were computed on (``git rev-parse
    HEAD``: the PR head, or the merge commit ``actions/checkout`` makes), so
    the line numbers match; None when the repository or commit is unknown.
    """
    from cfgc.review.report.github import git_prefix

    repository = os.environ.get("GITHUB_REPOSITORY")
    r = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True)
    sha = r.stdout.strip() if r.returncode == 0 else os.environ.get("GITHUB_SHA", "")
    if not repository or not sha:
        return None
    server = os.environ.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    prefix = git_prefix(root)

    def link(loc: Location) -> str:
        anchor = f"#L{loc.line}" if loc.line else ""
        return f"{server}/{repository}/blob/{sha}/{quote(prefix + loc.path)}{anchor}"
    return link


def run_pr(root: Path, base_name: str, command: str, comment: bool, select: str | None,
           fail_on_existing: bool = False, report: tuple[str, str] | None = None) -> int:
    """Check and diff against the base, report everywhere; the exit code.

    ``report``: (format, file) also writes the check in that format
    (sarif, json, markdown or text) to that file."""
    from cfgc.bundle.cache_index import default_cache_dir
    from cfgc.repo.sources import DirSource, GitSource
    from cfgc.review.checks import run_checks
    from cfgc.review.diff import compare
    from cfgc.review.report.github import git_prefix, render_github
    from cfgc.review.report.markdown import pr_comment

    base_ref = resolve_base(root, base_name)
    head, base = DirSource(root), GitSource(root, base_ref)
    # The build cache folder, as the check below uses it: the base's records
    # are kept by the diffs of earlier pull requests against the same base.
    diff = compare(base, head, select, base_name, "this pull request", cache=default_cache_dir(head))
    check = run_checks(head, select, base=base, delta=diff) if command == "check" else None
    if check is not None:
        sys.stdout.write(render_github(check.diagnostics, git_prefix(root), check.states))
    body = pr_comment(check, diff, line_linker(root), fail_on_existing)
    if report is not None and check is not None:
        Path(report[1]).write_text(_render(report[0], check, git_prefix(root)), encoding="utf-8")
    append_summary(body)
    errors = sum(d.severity == "error" for d in check.diagnostics) if check else 0
    failing = check.failing(fail_on_existing) if check else []
    set_outputs({
        "changed-targets": json.dumps([t.name for t in diff.targets]),
        "findings": str(len(check.diagnostics) if check else 0),
        "errors": str(errors),
        "new-errors": str(len(check.failing(False)) if check else 0),
    })
    number = pr_number(os.environ.get("GITHUB_EVENT_PATH"))
    if comment and number is not None:
        _comment(number, body)
    failed = bool(failing) or any(d.severity == "error" for d in diff.errors)
    return 1 if failed else 0


def _render(fmt: str, check: CheckResult, prefix: str) -> str:
    from cfgc.review.report import diagnostics as plain
    from cfgc.review.report.markdown import check_markdown
    from cfgc.review.report.sarif import render_sarif

    if fmt == "sarif":
        return render_sarif(check.diagnostics, prefix, check.states)
    if fmt == "json":
        return plain.render_json(check.diagnostics, check.targets, baseline_states=list(check.states))
    if fmt == "markdown":
        return check_markdown(check)
    return plain.render_text(check.diagnostics)


def _comment(number: int, body: str) -> None:
    api = GitHubAPI(os.environ.get("GITHUB_API_URL", "https://api.github.com"),
                    _require("GITHUB_TOKEN"), _require("GITHUB_REPOSITORY"))
    try:
        action, cid = api.upsert_comment(number, body)
    except APIError as e:
        why = (" (a pull request from a fork gets a read-only token; the job summary has the report)"
               if e.status in (401, 403, 404) else "")
        print(f"::warning title=cfgc::could not write the PR comment: HTTP {e.status}{why}")
        return
    except ExternalError as e:
        print(f"::warning title=cfgc::could not write the PR comment: {e}")
        return
    print(f"cfgc: {action} PR comment {cid}")


def _require(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise UsageError(f"${name} is not set (pass github-token to the action)")
    return value


def main(argv: list[str] | None = None) -> int:
    """``python3 -m cfgc.review.github pr --repo DIR --base REF [--comment true|false]``."""
    p = argparse.ArgumentParser(prog="python3 -m cfgc.review.github")
    sub = p.add_subparsers(dest="cmd", required=True)
    pr = sub.add_parser("pr", help="check + diff a pull request, annotate, summarise, comment")
    pr.add_argument("--repo", default=".")
    pr.add_argument("--base", default="", help="base branch or ref (default: $GITHUB_BASE_REF)")
    pr.add_argument("--command", choices=["check", "diff"], default="check")
    pr.add_argument("--comment", default="true", help="true or false")
    pr.add_argument("--target", default=None)
    pr.add_argument("--fail-on-existing", default="false", help="true: errors already on the base fail too")
    args = p.parse_args(argv)
    base = args.base or os.environ.get("GITHUB_BASE_REF", "")
    try:
        if not base:
            raise UsageError("no base ref: pass base-ref, or run on a pull_request event")
        return run_pr(Path(args.repo).resolve(), base, args.command, args.comment.lower() == "true",
                      args.target or None, args.fail_on_existing.lower() == "true")
    except CfgcError as e:
        print(f"::error::{e}")
        return e.exit_code


if __name__ == "__main__":
    sys.exit(main())
