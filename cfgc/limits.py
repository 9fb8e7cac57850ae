"""Resource limits of a build (the ``limits`` section of cfgc.yaml).

A config repo is untrusted input to the CI runner that compiles it: every
template runs under these limits, so a hostile template fails at its line
instead of exhausting the runner's memory or time.  YAML limits that must hold
before cfgc.yaml itself is read are constants of :mod:`cfgc.loading`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

# The largest integer a config value (YAML or template result) may hold: JSON
# consumers in most languages read numbers into 64-bit integers or doubles.
INT_MIN = -(2**63)
INT_MAX = 2**63 - 1
# Integers inside a template (intermediate results) stay below this many bits.
TEMPLATE_INT_BITS = 4096


@dataclass(frozen=True)
class Limits:
    """Per-template limits; the defaults are generous for configuration."""

    # Characters a template may emit in total, and the size (characters, or
    # items for lists) of any string or list it builds on the way.
    template_output_chars: int = 1_048_576
    # Loop iterations per template (all loops, nested ones included), and the
    # largest range() a template may ask for.
    template_loop_iterations: int = 100_000
    # Wall-clock seconds per template, checked between template operations.
    template_seconds: float = 5.0

    @classmethod
    def from_config(cls, data: Mapping[str, Any] | None) -> Limits:
        """The limits of cfgc.yaml's ``limits`` mapping (already schema-checked)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in known})


DEFAULT_LIMITS = Limits()
