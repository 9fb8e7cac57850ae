"""Policy findings: the rules' output turned into diagnostics at the file:line:col
that set the value, their messages masked of credentials (:mod:`cfgc.review.policy`)."""

from __future__ import annotations

import json
import re
from typing import Any

from cfgc.base.diagnostics import Diagnostic
from cfgc.compile.compiler import CompiledTarget
from cfgc.compile.merging import parse_dotted
from cfgc.secrets.redact import MIN_MASK_LENGTH, mask, sensitive_strings

__all__ = ["SEVERITY", "finding", "mask_messages"]

SEVERITY = {"deny": "error", "violation": "error", "warn": "warning"}
# Printable ASCII without quotes or a backslash: its repr and JSON forms are itself.
_PLAIN = re.compile(r"[ !#-&(-\[\]-~]*")


def mask_messages(messages: list[str], value: Any) -> list[str]:
    """``mask(m, sensitive_strings(value))`` for each message, classifying
    ``value``'s leaves only when a message may quote one of them.

    When no string leaf (of :data:`MIN_MASK_LENGTH` or more characters) of
    ``value`` appears in any message, :func:`mask` replaces none of them (its
    first replacement would be the first change to the text), so the leaves
    need not be classified.  A leaf whose repr or JSON form differs from the
    leaf itself (quotes, backslashes, non-ASCII or unprintable characters) is
    not searched for: the messages then take the full path.
    """
    if _may_quote(value, messages):
        known = sensitive_strings(value)
        return [mask(m, known) for m in messages]
    return [mask(m) for m in messages]


def _may_quote(value: Any, messages: list[str]) -> bool:
    todo = [value]
    while todo:
        v = todo.pop()
        t = type(v)
        if t is dict:
            todo.extend(v.values())
        elif t is list:
            todo.extend(v)
        elif t is str and len(v) >= MIN_MASK_LENGTH and (not _PLAIN.fullmatch(v) or any(v in m for m in messages)):
            return True
    return False


def finding(target: CompiledTarget, severity: str, kind: str, item: Any) -> Diagnostic:
    path = None
    if isinstance(item, dict):
        msg = str(item["msg"]) if "msg" in item else json.dumps(item, sort_keys=True)
        if isinstance(item.get("path"), str) and item["path"]:
            path = parse_dotted(item["path"])
    else:
        msg = item if isinstance(item, str) else json.dumps(item, sort_keys=True)
    loc = target.provenance.locate(path) if path else target.docs[-1].location()
    return Diagnostic(severity, msg, loc, f"policy.{kind}", (target.name,))
