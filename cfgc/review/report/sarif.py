"""SARIF 2.1.0: findings for GitHub code scanning and other SARIF viewers.

Upload the file with ``github/codeql-action/upload-sarif``; each finding
shows at its file:line:col.  URIs are relative to the git repository root
(pass the config repo's folder as ``prefix`` when it is a subfolder).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from cfgc import __version__
from cfgc.base.diagnostics import Diagnostic

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFO_URI = "https://github.com/cfgc/cfgc"

_RULE_HELP = {
    "policy": "A Rego policy of the repo could not be loaded.",
    "llm.routing": "Routing names existing models and fallback chains have no cycle.",
    "llm.prompt": "Prompt references resolve and templates use declared variables.",
    "schema": "The compiled target satisfies the repo's JSON Schemas.",
    "secrets": "Secret hygiene.",
}


def _describe(rule: str) -> str:
    if rule.startswith("policy."):
        return f"A '{rule[7:]}' rule of the repo's Rego policies."
    return _RULE_HELP.get(rule, f"cfgc {rule} check")


def _result(d: Diagnostic, rule_index: int, prefix: str, state: str | None) -> dict[str, Any]:
    res: dict[str, Any] = {
        "ruleId": d.rule,
        "ruleIndex": rule_index,
        "level": "error" if d.severity == "error" else "warning",
        "message": {"text": d.message},
    }
    loc = d.location
    if loc is not None:
        phys: dict[str, Any] = {"artifactLocation": {"uri": prefix + loc.path}}
        if loc.line:
            region: dict[str, Any] = {"startLine": loc.line}
            if loc.col:
                region["startColumn"] = loc.col
            phys["region"] = region
        res["locations"] = [{"physicalLocation": phys}]
    if state is not None:
        res["baselineState"] = state  # "new" or "unchanged" (SARIF 2.1.0 §3.27.24)
    if d.targets:
        res["properties"] = {"targets": list(d.targets)}
    return res


def sarif_log(diags: Sequence[Diagnostic], prefix: str = "", states: Sequence[str] = ()) -> dict[str, Any]:
    """The SARIF log as a dict; ``states`` (one per finding, from a base
    comparison) become each result's ``baselineState``."""
    rules = sorted({d.rule for d in diags})
    index = {r: i for i, r in enumerate(rules)}
    driver = {
        "name": "cfgc",
        "version": __version__,
        "informationUri": INFO_URI,
        "rules": [
            {"id": r, "shortDescription": {"text": _describe(r)}}
            for r in rules
        ],
    }
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{"tool": {"driver": driver}, "results": [
            _result(d, index[d.rule], prefix, states[i] if states else None) for i, d in enumerate(diags)]}],
    }


def render_sarif(diags: Sequence[Diagnostic], prefix: str = "", states: Sequence[str] = ()) -> str:
    """The SARIF log as indented JSON text."""
    return json.dumps(sarif_log(diags, prefix, states), indent=2) + "\n"
