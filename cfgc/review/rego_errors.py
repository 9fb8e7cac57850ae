"""How cfgc reads regopy: Rego v0 syntax refused at its line, regopy's error
S-expressions turned into located findings (never quoting the input they echo),
and its C-level stdout kept out of cfgc's output (:mod:`cfgc.review.policy`)."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from cfgc.base.diagnostics import Diagnostic
from cfgc.base.errors import Location

__all__ = ["EvalFailed", "errormsg", "quiet", "rego_error", "v0_rule"]

_V0_SET = re.compile(r"^(?P<name>[A-Za-z_]\w*)\s*\[[^\]]*\]\s*(\{|:?=(?!=))")
_V0_BODY = re.compile(r"^(?P<name>[A-Za-z_]\w*)(\s*:?=\s*[^{\s][^{]*)?\s*\{\s*(#.*)?$")
_V1_WORD = re.compile(r"\b(if|contains)\b")


def v0_rule(text: str) -> tuple[int, str] | None:
    """The first (line, rule head) written in Rego v0 syntax, if any."""
    for n, line in enumerate(text.splitlines(), 1):
        m = _V0_SET.match(line) or _V0_BODY.match(line)
        if m and m.group("name") not in ("package", "import", "default", "else") and not _V1_WORD.search(line):
            return n, line.strip()
    return None


def rego_error(path: str, text: str, err: Exception) -> Diagnostic:
    """A regopy error as a located finding (its S-expression holds offsets)."""
    raw = str(err)
    loc = Location(path, 1, 1)
    m = re.search(r"\(error \d+:[^|]*\|(\d+)\|", raw)
    if m:
        off = min(int(m.group(1)), len(text))
        line = text.count("\n", 0, off) + 1
        loc = Location(path, line, off - (text.rfind("\n", 0, off) + 1) + 1)
    msg = errormsg(raw) if "(errormsg " in raw else "syntax error"
    return Diagnostic("error", f"Rego: {msg}", loc, "policy")


class EvalFailed(Exception):
    """regopy could not evaluate the policies on one input."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def errormsg(raw: str) -> str:
    """The ``errormsg`` of a regopy error S-expression (never the rest: it quotes the input)."""
    m = re.search(r"\(errormsg (\d+):", raw)
    if m:
        return raw[m.end() : m.end() + int(m.group(1))]
    return "regopy returned no result"


@contextmanager
def quiet() -> Iterator[None]:
    """regopy prints its errors on the C-level stdout; keep our output clean."""
    sys.stdout.flush()
    saved = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)
