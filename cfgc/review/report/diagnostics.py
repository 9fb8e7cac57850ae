"""Text and JSON renderers for compiler findings."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

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
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"
