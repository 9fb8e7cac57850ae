"""``cfgc explain``: which layers set a value."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cfgc import api
from cfgc.api import render
from cfgc.base.paths import dotted
from cfgc.base.secretrefs import jsonable
from cfgc.cli.common import format_option, repo_option
from cfgc.cli.main import command

if TYPE_CHECKING:
    from cfgc.api import Explanation


def _show(value: object) -> str:
    if render.is_absent(value):
        return "(deleted)"
    if render.is_redacted(value):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=jsonable)


@command("explain")
@click.argument("target")
@click.argument("path", required=False, metavar="[DOTTED.PATH]")
@repo_option
@click.option("--ref", metavar="GITREF", help="Explain the target at this commit.")
@format_option("text", "json")
def explain_cmd(target: str, path: str | None, repo: Path | None, ref: str | None, fmt: str) -> None:
    """Show a resolved value and every layer that contributed to it.

    With a DOTTED.PATH (``models.primary.timeout_s``, list items as
    ``routing.fallbacks[0]``), lists each layer that set the value in merge
    order, the last one in force, each as ``file:line:col``; values inherited
    through $extends name their base; a key removed by !delete shows the value
    it removed and the delete.  Without a path (or with ''), prints every leaf
    of the target with the location that set it.  Credentials and SOPS values print as
    ``<redacted hmac:…>`` markers.

    \b
    Examples:
      cfgc explain acme/prod/chat models.primary.timeout_s
      cfgc explain acme/prod/chat --format json
    """
    if not path:  # '' is the whole target too
        rows = api.explain_target(repo, target, ref=ref)
        if fmt == "json":
            doc = [{"path": leaf.path, "value": leaf.value, "source": str(leaf.location)} for leaf in rows]
            click.echo(json.dumps({"target": target, "values": doc}, indent=2, ensure_ascii=False, default=jsonable))
            return
        width = max((len(leaf.path) for leaf in rows), default=0)
        for leaf in rows:
            click.echo(f"{leaf.path:<{width}}  {_show(leaf.value)}  # {leaf.location}")
        return
    ex = api.explain_value(repo, target, path, ref=ref)
    if fmt == "json":
        click.echo(json.dumps(json_doc(ex), indent=2, ensure_ascii=False, default=jsonable))
        return
    for line in text_lines(ex):
        click.echo(line)


def text_lines(ex: Explanation) -> list[str]:
    """The text form of an explanation: the value, then each contribution."""
    out = [f"{ex.target} {dotted(ex.path)} = {_show(ex.value)}"]
    n = len(ex.contributions)
    for i, c in enumerate(ex.contributions):
        mark = "  <- in force" if i == n - 1 else ""
        via = f" (via $extends {c.via})" if c.via else ""
        shown = "(deleted)" if c.action == "delete" else _show(c.value)
        action = "" if c.action == "set" else f" [{c.action}]"
        out.append(f"  {c.location}: {shown}{action}{via}{mark}")
    if not ex.contributions:
        out.append("  (no layer sets this value directly)")
    return out


def json_doc(ex: Explanation) -> dict[str, object]:
    """The JSON form of an explanation."""
    return {
        "target": ex.target,
        "path": dotted(ex.path),
        "value": None if render.is_absent(ex.value) else ex.value,
        "deleted": render.is_absent(ex.value),
        "contributions": [
            {
                "file": c.location.path,
                "line": c.location.line,
                "col": c.location.col,
                "value": c.value,
                "action": c.action,
                "via": c.via,
            }
            for c in ex.contributions
        ],
    }
