"""``cfgc init``: scaffold a small working config repo."""

from __future__ import annotations

from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

import click

from cfgc.base.errors import UsageError
from cfgc.cli.main import command
from cfgc.repo.sources import CONFIG_FILE


def _walk(node: Traversable, prefix: str = "") -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        rel = f"{prefix}{child.name}"
        if child.is_dir():
            out.extend(_walk(child, rel + "/"))
        elif child.name != "__pycache__":
            out.append((rel, child.read_bytes()))
    return out


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
    if (directory / CONFIG_FILE).exists():
        raise UsageError(f"{directory / CONFIG_FILE} already exists; not overwriting it")
    files = _walk(resources.files("cfgc").joinpath("data/init"))
    clashes = [rel for rel, _ in files if (directory / rel).exists()]
    if clashes:
        raise UsageError(f"{directory} already has {', '.join(clashes[:3])}; not overwriting")
    for rel, data in files:
        dest = directory / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
    click.echo(f"created a cfgc config repo in {directory} ({len(files)} files)")
    click.echo("next: cfgc validate" + (f" --repo {directory}" if str(directory) != "." else ""))
