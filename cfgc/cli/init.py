"""``cfgc init``: scaffold a small working config repo."""

from __future__ import annotations

from pathlib import Path

import click

from cfgc import api
from cfgc.cli.main import command


@command("init")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path), default=Path("."))
def init(directory: Path) -> None:
    """Create a small working config repo in DIRECTORY (default: here).

    The scaffold has one tenant, two environments, a service, a prompt
    template and a schema, and compiles as it is:

    \b
      cfgc init my-config && cd my-config
      cfgc validate
      cfgc explain example/prod/chat models.primary.timeout_s

    Refuses to touch a directory that already holds a cfgc.yaml.
    """
    done = api.init_repo(directory)
    click.echo(f"created a cfgc config repo in {directory} ({len(done.files)} files)")
    click.echo("next: cfgc validate" + (f" --repo {directory}" if str(directory) != "." else ""))
