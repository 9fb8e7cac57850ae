"""Policy findings: the rules' output turned into diagnostics at the file:line:col
that set the value, their messages masked of credentials (:mod:`cfgc.review.policy`)."""

from __future__ import annotations

import json
from typing import Any

from cfgc.base.diagnostics import Diagnostic
from cfgc.compile.compiler import CompiledTarget
from cfgc.compile.merging import parse_dotted
from cfgc.secrets.redact import MIN_MASK_LENGTH, mask, sensitive_strings

__all__ = ["SEVERITY", "finding", "mask_messages"]

SEVERITY = {"deny": "error", "violation": "error", "warn": "warning"}


def mask_messages(messages: list[str], value: Any) -> list[str]:
    """``mask(m, sensitive_strings(value))`` for each message, classifying
    ``value``'s leaves only when a message may quote one of them.

    When no string leaf (of :data:`MIN_MASK_LENGTH` or more characters) of
    ``value`` appears in any message, :func:`mask` replaces none of them (its
    first replacement would be the first change to the text), so the leaves
    need not be classified.  A leaf whose repr or JSON form differs from the
    leaf itself (quotes, backslashes, non-ASCII or unprintable characters) is
    not searched for: the messages then take the full path.

    The walk tests each leaf with ``str`` methods against the messages joined
    by NUL (a plain leaf holds no NUL, so it is in the joined text exactly
    when it is in one message; a leaf with a NUL is not plain and takes the
    full path either way): about half the time of a regex and a generator
    per leaf, on every target with a finding.
    """
    if _may_quote(value, messages):
        known = sensitive_strings(value)
        return [mask(m, known) for m in messages]
    return [mask(m) for m in messages]


def finding(target: CompiledTarget, severity: str, kind: str, item: Any) -> Diagnostic:
    path = None
    if isinstance(item, dict):
        msg = str(item["msg"]) if "msg" in item else json.dumps(item, sort_keys=True)
        if isinstance(item.get("path"), str) and item["path"]:
            path = _parsed(item["path"])
    else:
        msg = item if isinstance(item, str) else json.dumps(item, sort_keys=True)
    loc = target.provenance.locate(path) if path else target.docs[-1].location()
    return Diagnostic(severity, msg, loc, f"policy.{kind}", (target.name,))


# A rule names the same few paths for every target: each is parsed once (5 us).
_PATHS: dict[str, tuple[str | int, ...]] = {}
_PATHS_MAX = 4096  # paths kept; past it, parsed every time
# A longer path is not kept.  A policy controls the texts (sprintf over a
# target), so the bound is on what they cost held: 4096 texts of 128
# characters parse to at most about 12 MB of tuples (1024 allowed 87 MB).
_PATH_MAX_CHARS = 128


def _parsed(text: str) -> tuple[str | int, ...]:
    """``parse_dotted(text)``, kept for the texts met before (a pure function of the text)."""
    path = _PATHS.get(text)
    if path is None:
        path = parse_dotted(text)
        if len(_PATHS) < _PATHS_MAX and len(text) <= _PATH_MAX_CHARS:
            _PATHS[text] = path
    return path


def _may_quote(value: Any, messages: list[str]) -> bool:
    # A plain leaf is printable ASCII without quotes or a backslash (its repr
    # and JSON forms are itself) and holds no NUL, so it is in the messages
    # joined by NUL exactly when it is in one of them; a leaf that is not
    # plain answers True either way.  str methods and one joined text cost
    # about half of a regex and a generator per leaf (every target with a finding).
    joined = "\0".join(messages)
    todo = [value]
    pop, extend = todo.pop, todo.extend
    while todo:
        v = pop()
        t = type(v)
        if t is dict:
            extend(v.values())
        elif t is list:
            extend(v)
        elif t is str and len(v) >= MIN_MASK_LENGTH and (
                v in joined or not v.isascii() or not v.isprintable() or '"' in v or "'" in v or "\\" in v):
            return True
    return False
