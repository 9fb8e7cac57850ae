"""Options and helpers shared by the commands."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

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


def open_cache(source: Any, no_cache: bool, cache_dir: Path | None) -> Any:
    """The build cache the options ask for, or None."""
    from cfgc.cache import BuildCache, default_cache_dir

    if no_cache:
        return None
    root = cache_dir or default_cache_dir(source)
    return BuildCache(root, warn=lambda line: click.echo(line, err=True)) if root is not None else None


def show_progress() -> bool:
    """Progress bars only on an interactive terminal, never in CI logs."""
    return sys.stderr.isatty() and not os.environ.get("CI")


class Progress:
    """A progress bar on stderr for long runs (a no-op when not interactive).

    Called as ``progress(done, total)`` with running totals (the protocol of
    :data:`cfgc.pipeline.Progress`): the pipeline reports once per chunk of
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
