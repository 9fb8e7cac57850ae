"""Options and helpers shared by the commands."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from cfgc.base.errors import UsageError
from cfgc.cli import progress
from cfgc.cli.failure import format_callback
from cfgc.cli.progress import cache_arg, show_progress, warn

__all__ = [
    "Progress", "cache_arg", "cache_options", "format_option", "repo_option", "show_progress", "stdin_password",
    "store_options", "warn",
]

F = TypeVar("F", bound=Callable[..., Any])


def repo_option(f: F) -> F:
    """``--repo DIR``: the config repo (default: walk up to cfgc.yaml)."""
    return click.option(
        "--repo",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Config repo root (default: the nearest parent directory holding cfgc.yaml).",
    )(f)


def format_option(*choices: str, default: str = "text") -> Callable[[F], F]:
    """``--format``: one of ``choices``."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(choices)),
        default=default,
        show_default=True,
        callback=format_callback,
        help="Output format.",
    )


def cache_options(f: F) -> F:
    """``--jobs``, ``--no-cache`` and ``--cache-dir`` for compiling commands."""
    f = click.option(
        "--cache-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Build cache folder (default: $CFGC_CACHE_DIR, else $XDG_CACHE_HOME/cfgc/<repo id>, "
        "outside the repo; see docs/performance.md).",
    )(f)
    f = click.option("--no-cache", is_flag=True, help="Compile every target; neither read nor write the cache.")(f)
    return click.option(
        "--jobs",
        "-j",
        type=click.IntRange(min=1),
        default=None,
        help="Worker processes (default: $CFGC_JOBS or one per core).",
    )(f)


def store_options(flag: str) -> Callable[[F], F]:
    """``--to/--from URL`` and the registry connection options."""

    def deco(f: F) -> F:
        for opt in reversed([
            click.option(flag, "url", required=True, metavar="URL",
                         help="file:///abs/path, s3://bucket/prefix or oci://host[:port]/repository."),
            click.option("--plain-http", is_flag=True,
                         help="OCI: plain HTTP for a non-loopback registry (loopback always uses it)."),
            click.option("--username", help="OCI: registry user (default: docker config auths)."),
            click.option("--password-stdin", is_flag=True, help="OCI: read the registry password from stdin."),
        ]):
            f = opt(f)
        return f

    return deco


def stdin_password(username: str | None, password_stdin: bool) -> str | None:
    """The registry password ``--password-stdin`` reads (one line), or None."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    if password_stdin and username is None:
        raise UsageError("--password-stdin needs --username")
    return password


class Progress(progress.Progress):
    """:class:`cfgc.cli.progress.Progress` asking this module's :func:`show_progress`."""

    def _visible(self) -> bool:
        return show_progress()
