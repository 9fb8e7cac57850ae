#!/usr/bin/env python3
"""Write docs/cli-reference.md from the commands' own --help texts.

    python3 scripts/gen_cli_reference.py          # rewrite the file
    python3 scripts/gen_cli_reference.py --check  # exit 1 if it is stale
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "cli-reference.md"


def render() -> str:
    from cfgc.cli import main as m

    m.register_commands()
    root = m.cli
    parts = [
        "# CLI reference\n",
        "Generated from `cfgc --help` by `scripts/gen_cli_reference.py`; do not edit by hand.\n",
    ]

    def walk(cmd: click.Command, path: list[str], parent: click.Context | None) -> None:
        # A parent context passes the group's context_settings (``-h``) down, as at run time.
        settings = cmd.context_settings if parent is None else {}
        ctx = click.Context(cmd, info_name=path[-1], parent=parent, terminal_width=100, **settings)
        parts.append(f"\n## `{' '.join(path)}`\n\n```text\n{cmd.get_help(ctx)}\n```\n")
        if isinstance(cmd, click.Group):
            for name in sorted(cmd.commands):
                walk(cmd.commands[name], [*path, name], ctx)

    walk(root, ["cfgc"], None)
    return "".join(parts)


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        if not OUT.exists() or OUT.read_text() != text:
            print("docs/cli-reference.md is stale: run python3 scripts/gen_cli_reference.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
