"""What ``cfgc validate`` does once its options are parsed, without click.

Both the click command (:mod:`cfgc.cli.validate`) and the click-free start
(:mod:`cfgc.cli.entry`) run :func:`run`, so the two print the same bytes and
exit the same way.
"""

from __future__ import annotations

from pathlib import Path

from cfgc import api
from cfgc.api.render import diagnostics_json as render_json
from cfgc.api.render import diagnostics_text as render_text
from cfgc.api.render import summary_line
from cfgc.cli.echo import echo
from cfgc.cli.progress import Progress, cache_arg, warn


def run(repo: Path | None, ref: str | None, select: str | None, jobs: int | None, no_cache: bool,
        cache_dir: Path | None, fmt: str) -> None:
    """Validate as ``cfgc validate`` with these options; print its report (exit 1 on any error)."""
    progress = Progress("validating")
    try:
        result = api.validate(repo, ref=ref, targets=select, jobs=jobs, cache=cache_arg(no_cache, cache_dir),
                              progress=progress, warn=warn)
    finally:
        progress.close()
    names = result.targets
    if fmt == "json":
        echo(render_json(result.diagnostics, names), nl=False)
    else:
        echo(render_text(result.diagnostics), nl=False)
        if result.ok:
            echo(f"ok: {len(names)} target{'s' if len(names) != 1 else ''} valid")
        else:
            echo(summary_line(result.diagnostics, len(names)))
    if not result.ok:
        raise SystemExit(1)
