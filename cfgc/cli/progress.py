"""Helpers the compiling commands share that need no click until they draw (re-exported by
:mod:`cfgc.cli.common`; used by ``cfgc build``'s click-free start, :mod:`cfgc.cli.entry`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from cfgc.cli.echo import echo


def cache_arg(no_cache: bool, cache_dir: Path | None) -> bool | Path:
    """The API's ``cache=`` for ``--no-cache`` / ``--cache-dir``."""
    return False if no_cache else cache_dir if cache_dir is not None else True


def warn(line: str) -> None:
    """A warning line on stderr."""
    echo(line, err=True)


def show_progress() -> bool:
    """Progress bars only on an interactive terminal, never in CI logs."""
    return sys.stderr.isatty() and not os.environ.get("CI")


class Progress:
    """A progress bar on stderr for long runs (a no-op when not interactive).

    Called as ``progress(done, total)`` with running totals (the protocol of
    :data:`cfgc.bundle.pipeline.Progress`): the pipeline reports once per chunk of
    targets, so the bar moves by the difference, not by one per call.  click is
    imported when a bar is first drawn.
    """

    def __init__(self, label: str, threshold: int = 200) -> None:
        self.label = label
        self.threshold = threshold
        self._bar: Any = None
        self._shown = 0

    def _visible(self) -> bool:
        return show_progress()

    def __call__(self, done: int, total: int) -> None:
        if total < self.threshold or not self._visible():
            return
        if self._bar is None:
            import click

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
