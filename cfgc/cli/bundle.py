"""``cfgc bundle merge``: join the parts of a sharded build into one bundle."""

from __future__ import annotations

import json
from pathlib import Path

import click

from cfgc.cli.common import format_option
from cfgc.cli.main import group


@group("bundle")
def bundle() -> None:
    """Work with bundle directories (merge the parts of a sharded build)."""


@bundle.command("merge")
@click.argument("parts", nargs=-1, required=True, type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Bundle directory to write (replaced atomically; left untouched on failure).",
)
@format_option("text", "json")
def merge(parts: tuple[Path, ...], out: Path, fmt: str) -> None:
    """Merge the parts of `cfgc build --shard I/N` into one bundle.

    Give every part of one sharded build (one per shard, in any order).  The
    parts must come from the same source, selection, config, schemas, prompt
    library and cfgc version; each part must hold exactly the files its
    part.json lists, with their digests.  The bundle written is byte-identical
    to what `cfgc build` of the same tree writes; sign and publish it as usual.

    Parts of different builds, or a missing or repeated shard, exit 2; a part
    that does not hold what it says (a file altered, added or missing, a
    target in the wrong shard) exits 5.  On any failure OUT stays as it was.

    \b
    Examples:
      cfgc bundle merge parts/part-* --out build/bundle
      cfgc bundle merge p1 p2 p3 --out build/bundle --format json
    """
    from cfgc import api

    done = api.merge_parts(parts, out)
    if fmt == "json":
        click.echo(json.dumps({"ok": True, "out": str(out), "manifest_digest": done.digest,
                               "targets": done.targets, "parts": done.parts}, indent=2))
        return
    click.echo(f"merged {done.parts} parts, {done.targets} targets into {out} (manifest {done.digest[:19]}…)")
