"""Printing without importing click, for ``cfgc build``'s click-free start (:mod:`cfgc.cli.entry`).

:func:`echo` writes what ``click.echo`` writes for a ``str``; for the cases
where click would change the text (escape sequences, which it strips when the
stream is no terminal; an ASCII-encoded stream, which it re-wraps) it calls
``click.echo`` itself, so the bytes printed are always click's.
"""

from __future__ import annotations

import codecs
import sys
from typing import TextIO


def echo(message: str, err: bool = False, nl: bool = True) -> None:
    """``click.echo(message, err=err, nl=nl)`` for a ``str`` message."""
    stream: TextIO | None = sys.stderr if err else sys.stdout
    if stream is None:
        return
    if "\x1b" in message or _ascii(stream):
        import click

        click.echo(message, err=err, nl=nl)
        return
    if nl:
        message += "\n"
    if message:
        stream.write(message)
    stream.flush()


def _ascii(stream: TextIO) -> bool:
    """click's test for a misconfigured stream (``_compat._stream_is_misconfigured``)."""
    try:
        return codecs.lookup(getattr(stream, "encoding", None) or "ascii").name == "ascii"
    except LookupError:
        return False
