"""Text and JSON renderers for compiler findings."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import orjson

from cfgc.base.diagnostics import Diagnostic, count
from cfgc.base.jsonvalue import JSONObject

MAX_TARGETS_SHOWN = 3


def _targets_note(d: Diagnostic) -> str:
    if not d.targets:
        return ""
    shown = ", ".join(d.targets[:MAX_TARGETS_SHOWN])
    more = len(d.targets) - MAX_TARGETS_SHOWN
    if more > 0:
        shown += f", +{more} more"
    label = "target" if len(d.targets) == 1 else f"{len(d.targets)} targets"
    return f" [{label}: {shown}]"


def render_text(diags: Sequence[Diagnostic]) -> str:
    """One ``path:line:col: severity: message`` line per finding."""
    return "".join(f"{d}{_targets_note(d)}\n" for d in diags)


def summary_line(diags: Sequence[Diagnostic], targets: int) -> str:
    """``3 errors, 1 warning in 12 targets``."""
    e, w = count(diags, "error"), count(diags, "warning")
    parts = [f"{e} error{'s' if e != 1 else ''}"]
    if w:
        parts.append(f"{w} warning{'s' if w != 1 else ''}")
    return f"{', '.join(parts)} ({targets} target{'s' if targets != 1 else ''} compiled)"


def diagnostic_json(d: Diagnostic) -> JSONObject:
    """A finding as a JSON object."""
    loc = d.location
    return {
        "severity": d.severity,
        "rule": d.rule,
        "message": d.message,
        "file": loc.path if loc else None,
        "line": loc.line if loc else None,
        "col": loc.col if loc else None,
        "targets": list(d.targets),
    }


def render_json(diags: Sequence[Diagnostic], targets: Sequence[str], **extra: Any) -> str:
    """The machine-readable result of validate/build."""
    doc = {
        "ok": count(diags, "error") == 0,
        "errors": count(diags, "error"),
        "warnings": count(diags, "warning"),
        "diagnostics": [diagnostic_json(d) for d in diags],
        "targets": list(targets),
        **extra,
    }
    return indented_json(doc) + "\n"


# The JSON types whose text orjson and json.dumps write alike (json.dumps writes
# floats by repr, orjson by its own shortest form: 1e16 against 1e+16).
_SAME_TEXT = frozenset({str, int, bool, type(None)})


def indented_json(doc: dict[str, Any]) -> str:
    """``json.dumps(doc, indent=2)``, written by orjson when it is sure to be the same text.

    The check of the full corpus writes 2,510 findings and 10,000 target names:
    22 ms in json's pure-Python indenting encoder, 0.3 ms in orjson, on the
    parent's one core after the workers.  The two write the same indented
    layout and escapes for ASCII text; orjson writes other characters (and
    DEL) as they are where json.dumps escapes them, refuses lone surrogates and
    integers beyond 64 bits, and writes floats its own way: any of those, and
    any value of another type, takes json.dumps (tests/unit/review/test_render_json.py).
    """
    if _plain(doc):
        try:
            data = orjson.dumps(doc, option=orjson.OPT_INDENT_2)
        except TypeError:
            pass
        else:
            if data.isascii() and b"\x7f" not in data:
                return data.decode()
    return json.dumps(doc, indent=2, sort_keys=False)


def _plain(value: Any) -> bool:
    """Whether ``value`` holds only dicts, lists and values of :data:`_SAME_TEXT` types
    (a key that is not a ``str`` orjson refuses)."""
    todo = [value]
    pop, extend, same = todo.pop, todo.extend, _SAME_TEXT
    while todo:
        v = pop()
        t = type(v)
        if t is dict:
            extend(v.values())
        elif t is list:
            if not same.issuperset(map(type, v)):  # a list of names is checked in one C call
                extend(v)
        elif t not in same:
            return False
    return True
