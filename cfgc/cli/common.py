"""Options and helpers shared by the commands."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from cfgc.base.errors import UsageError
from cfgc.cli.failure import format_callback

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


def cache_arg(no_cache: bool, cache_dir: Path | None) -> bool | Path:
    """The API's ``cache=`` for ``--no-cache`` / ``--cache-dir``."""
    return False if no_cache else cache_dir if cache_dir is not None else True


def warn(line: str) -> None:
    """A warning line on stderr."""
    click.echo(line, err=True)


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


def show_progress() -> bool:
    """Progress bars only on an interactive terminal, never in CI logs."""
    return sys.stderr.isatty() and not os.environ.get("CI")


class Progress:
    """A progress bar on stderr for long runs (a no-op when not interactive).

    Called as ``progress(done, total)`` with running totals (the protocol of
    :data:`cfgc.bundle.pipeline.Progress`): the pipeline reports once per chunk of
    targets, so the bar moves by the difference, not by one per call.
    """

    def __init__(self, label: str, threshold: int = 200) -> None:
        self.label = label
        self.threshold = threshold
        self._bar: Any = None
        self._shown = 0

    def __call__(self, done: int, total: int) -> None:
        if total < self.threshold or not show_progress():
            return
        if self._bar is None:
            self._bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
            self._bar.__enter__()
            self._shown = 0
        step = min(done, total) - self._shown
        if step > 0:
            self._bar.update(step)
            self._shown += step
        if done >= total:
            self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None
