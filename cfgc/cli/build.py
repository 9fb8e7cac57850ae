"""``cfgc build``: compile every target into a bundle directory."""

from __future__ import annotations

from pathlib import Path

import click

from cfgc.cli import build_run
from cfgc.cli.common import cache_options, format_option, repo_option
from cfgc.cli.main import command


@command("build")
@repo_option
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("build/bundle"),
    show_default=True,
    help="Bundle directory to write (replaced atomically, or updated in place under a journal; left untouched on failure).",
)
@click.option("--ref", metavar="GITREF", help="Compile this commit from git objects, without a checkout.")
@click.option("--target", "select", metavar="GLOB", help="Only targets whose name matches, e.g. 'acme/*/*'.")
@click.option(
    "--sign-key",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Sign the bundle with this ed25519 key before it replaces OUT (see `cfgc sign`).",
)
@click.option(
    "--shard",
    metavar="I/N",
    help="Compile only shard I of N (a deterministic split by target name) into a bundle part; "
    "join the N parts with `cfgc bundle merge`.",
)
@click.option(
    "--verify-out",
    is_flag=True,
    help="Hash every file of OUT before updating it in place, instead of trusting their stat.",
)
@cache_options
@format_option("text", "json")
def build(
    repo: Path | None,
    out: Path,
    ref: str | None,
    select: str | None,
    sign_key: Path | None,
    shard: str | None,
    verify_out: bool,
    jobs: int | None,
    no_cache: bool,
    cache_dir: Path | None,
    fmt: str,
) -> None:
    """Compile the config repo into a bundle directory.

    Loads every layer, merges them per target, resolves $extends, prompt
    references and templates, validates each target against its schemas and
    writes:

    \b
      OUT/manifest.json            targets with sha256 digests, source commit
      OUT/targets/<target>.json    each compiled target as canonical JSON
      OUT/prompts/<name>/<v>.j2    the prompt templates the targets pin
      OUT/secrets/<file>           SOPS documents the targets reference (still encrypted)

    The same commit always gives byte-identical output.  On any error nothing
    is written and a previous bundle in OUT stays as it was; with --sign-key
    the bundle is signed before it replaces OUT, so OUT never holds an
    unsigned or half-written bundle.  An unsigned rebuild into the OUT the
    last build wrote renames only the files that change into it (a journal
    finishes an interrupted update; "unchanged" when there is none).  Builds into one OUT wait for each other
    (lock .OUT.lock beside it, up to 600 s) and clean up what killed builds
    left there.  The signed provenance lists exactly the files the compile
    read.  Targets whose inputs did not change come from the build cache
    (outside the repo, every blob verified before use), and the rest compile
    on every core.

    \b
    Examples:
      cfgc build --out build/bundle
      cfgc build --ref origin/main --out /tmp/main-bundle
      cfgc build --target 'acme/prod/*' --format json
      cfgc build --out build/bundle --sign-key release.key
      cfgc build --shard 2/8 --out build/part-2

    With --shard I/N, OUT is a bundle part: the files of shard I's targets
    and part.json (see docs/bundle-format.md).  `cfgc bundle merge` joins the
    N parts into the bundle a single build would have written, byte for byte;
    sign that bundle, not the parts.
    """
    build_run.run(repo, out, ref, select, sign_key, shard, verify_out, jobs, no_cache, cache_dir, fmt)
