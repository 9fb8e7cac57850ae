"""``cfgc explain``: which layers set a value."""

from __future__ import annotations

import json
from pathlib import Path

import click

from cfgc.cli.common import format_option, repo_option
from cfgc.cli.main import command
from cfgc.compiler import Compiler
from cfgc.errors import InputError
from cfgc.explain import Explanation, explain, shown_leaves
from cfgc.merging import MISSING, dotted, parse_dotted
from cfgc.redact import MARKER
from cfgc.secretrefs import jsonable
from cfgc.sources import open_source


def _show(value: object) -> str:
    if value is MISSING:
        return "(deleted)"
    if isinstance(value, str) and MARKER.fullmatch(value):
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
    source = open_source(repo, ref)
    compiler = Compiler(source)
    specs = {s.name: s for s in compiler.specs()}
    spec = specs.get(target)
    if spec is None:
        close = [n for n in specs if target.split("/")[0] in n][:5]
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise InputError(f"unknown target {target!r}{hint}")
    compiled = compiler.compile(spec)
    if not path:  # '' is the whole target too
        rows = shown_leaves(compiled)
        if fmt == "json":
            doc = [{"path": dotted(p), "value": v, "source": str(loc)} for p, v, loc in rows]
            click.echo(json.dumps({"target": target, "values": doc}, indent=2, ensure_ascii=False, default=jsonable))
            return
        width = max((len(dotted(p)) for p, _, _ in rows), default=0)
        for p, v, loc in rows:
            click.echo(f"{dotted(p):<{width}}  {_show(v)}  # {loc}")
        return
    ex = explain(compiled, parse_dotted(path))
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
        "value": None if ex.value is MISSING else ex.value,
        "deleted": ex.value is MISSING,
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
