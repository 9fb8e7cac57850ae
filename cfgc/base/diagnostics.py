"""Findings about a config repo: errors and warnings with their source lines."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from cfgc.base.errors import CfgcError, Location


@dataclass(frozen=True)
class Diagnostic:
    """One finding; ``targets`` lists the compiled targets it affects."""

    severity: str  # "error" or "warning"
    message: str
    location: Location | None
    rule: str = "compile"  # yaml, config, merge, extends, template, prompt, schema, secrets, policy...
    targets: tuple[str, ...] = field(default=())

    @classmethod
    def from_error(cls, err: CfgcError, rule: str = "compile", target: str | None = None) -> Diagnostic:
        """Wrap a raised input error."""
        return cls("error", err.message, err.location, rule, (target,) if target else ())

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        return f"{where}{self.severity}: {self.message}"


def group(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Merge findings that differ only by target, sorted by location."""
    merged: dict[tuple[str, str, Location | None], tuple[str, list[str]]] = {}
    for d in diags:
        key = (d.severity, d.message, d.location)
        merged.setdefault(key, (d.rule, []))[1].extend(d.targets)
    out = [
        Diagnostic(sev, msg, loc, rule, tuple(sorted(set(targets))))
        for (sev, msg, loc), (rule, targets) in merged.items()
    ]
    out.sort(key=lambda d: (d.location or Location(""), d.severity, d.message))
    return out


def count(diags: Iterable[Diagnostic], severity: str) -> int:
    """How many findings have ``severity``."""
    return sum(1 for d in diags if d.severity == severity)


def rule_of(e: CfgcError) -> str:
    """The finding rule for an error raised while compiling a target."""
    msg = e.message
    for word, rule in (("$extends", "extends"), ("template", "template"), ("prompt", "prompt"), ("YAML", "yaml")):
        if word in msg:
            return rule
    return "compile"
