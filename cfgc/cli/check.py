"""``cfgc check``: validation, secret hygiene, LLM checks and Rego policies."""

from __future__ import annotations

from pathlib import Path

import click

from cfgc.checks import run_checks
from cfgc.cli.common import format_option, repo_option
from cfgc.cli.main import command
from cfgc.report import diagnostics as plain
from cfgc.report.github import git_prefix, render_github
from cfgc.report.markdown import check_markdown
from cfgc.report.sarif import render_sarif
from cfgc.sources import DirSource, GitSource, find_repo_root


@command("check")
@repo_option
@click.option("--base", "base_ref", metavar="GITREF",
              help="Compare with this commit: policies see input.changed true/false.")
@click.option("--target", "select", metavar="GLOB", help="Only targets whose name matches.")
@format_option("text", "json", "github", "sarif", "markdown")
def check(repo: Path | None, base_ref: str | None, select: str | None, fmt: str) -> None:
    """Run every check on the repo: the gate for pull requests.

    \b
    Checks, each finding at its file:line:col:
      validation      what 'cfgc validate' reports (YAML, merge, schemas...)
      secrets         secret hygiene (unencrypted values, key age, ...)
      llm.routing     routing.default_model and routing.fallbacks name models
                      under 'models'; fallback chains have no cycle
      llm.prompt      pinned prompt references exist; a template that
                      declares '{# variables: a, b #}' uses only those
      policy.*        Rego policies in the policies folder (package main,
                      v1 syntax: 'deny contains msg if {...}', 'warn ...')

    Policies get one input per target: {"target", "vars", "config",
    "changed"}; 'changed' is null without --base.  A rule yields a message
    or {"msg": ..., "path": "dotted.path"}; with a path the finding points
    at the line that set that value.

    Exits 1 when any error or deny finding exists; warnings do not fail.

    \b
    Formats: text (path:line:col: severity: message), json, github
    (workflow commands that annotate the PR), sarif (2.1.0, for code
    scanning), markdown (a PR comment).

    \b
    Examples:
      cfgc check
      cfgc check --base origin/main --format github
      cfgc check --format sarif > cfgc.sarif
    """
    root = repo.resolve() if repo is not None else find_repo_root()
    if not (root / "cfgc.yaml").is_file():
        raise click.UsageError(f"--repo {repo}: no cfgc.yaml in that directory")
    base = GitSource(root, base_ref, "--base") if base_ref else None
    result = run_checks(DirSource(root), select, base)
    diags = result.diagnostics
    if fmt == "json":
        extra = {"changed": sorted(result.changed) if result.changed is not None else None}
        click.echo(plain.render_json(diags, result.targets, **extra), nl=False)
    elif fmt == "github":
        click.echo(render_github(diags, git_prefix(root)), nl=False)
    elif fmt == "sarif":
        click.echo(render_sarif(diags, git_prefix(root)), nl=False)
    elif fmt == "markdown":
        click.echo(check_markdown(result), nl=False)
    else:
        click.echo(plain.render_text(diags), nl=False)
        if result.ok and not diags:
            click.echo(f"ok: {len(result.targets)} targets pass every check")
        else:
            click.echo(plain.summary_line(diags, len(result.targets)))
    if not result.ok:
        raise SystemExit(1)
