"""``cfgc history``: who changed a resolved value, when, from what to what."""

from __future__ import annotations

import json
from pathlib import Path

import click

from cfgc import api
from cfgc.api import render
from cfgc.base.paths import dotted, parse
from cfgc.cli.common import format_option, repo_option
from cfgc.cli.main import command


def _shown(v: object) -> str:
    if render.is_absent(v):
        return "(absent)"
    if render.did_not_compile(v):
        return "(did not compile)"
    if isinstance(v, str) and render.is_redacted(v):
        return v
    return json.dumps(v, ensure_ascii=False, sort_keys=True)


@command("history")
@click.argument("target")
@click.argument("dotted_path", metavar="DOTTED.PATH")
@repo_option
@click.option("--max-count", "-n", type=click.IntRange(min=1), default=20, show_default=True,
              help="At most this many commits.")
@format_option("text", "json")
def history(target: str, dotted_path: str, repo: Path | None, max_count: int, fmt: str) -> None:
    """List the commits that changed one resolved value, newest first.

    Each commit that touched a file the target reads (its layers, cfgc.yaml,
    the prompt library) is compiled from git objects with its parent; only
    commits where the resolved value at DOTTED.PATH changed are listed, with
    author, date, before and after.  A base-layer edit that the target
    overrides is skipped; one that reaches it through $extends or a template
    is listed.  Credentials and SOPS values print as redaction markers.  Committed history only: the
    working tree is not included.

    \b
    Examples:
      cfgc history acme/prod/chat models.primary.timeout_s
      cfgc history acme/prod/chat routing.fallbacks -n 5 --format json
    """
    entries = api.value_history(repo, target, dotted_path, max_count=max_count)
    path = parse(dotted_path, lenient=True)
    if fmt == "json":
        doc = {"target": target, "path": dotted(path), "commits": [render.history_json(e) for e in entries]}
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    click.echo(f"{target} {dotted(path)}: {len(entries)} change{'s' if len(entries) != 1 else ''}")
    for e in entries:
        change = f"{_shown(e.before)} → {_shown(e.after)}"
        click.echo(f"{e.commit[:10]}  {e.date[:10]}  {e.author}  {e.subject}")
        click.echo(f"    {change}")
