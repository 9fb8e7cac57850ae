"""The result :func:`cfgc.build_bundle` returns, alone in its module.

A rebuild of one changed target into the same ``--out`` is measured in
milliseconds, and each frozen dataclass costs about half of one to create at
import (``dataclasses`` compiles its methods from source): ``cfgc build``
imports this module, not :mod:`cfgc.api._results` and the results of the
commands it does not run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cfgc.base.diagnostics import Diagnostic


@dataclass(frozen=True)
class BuildResult:
    """A bundle :func:`cfgc.build_bundle` wrote (it raises rather than write a failed one)."""

    out: Path
    digest: str  # sha256 of manifest.json
    targets: tuple[str, ...]
    diagnostics: tuple[Diagnostic, ...]  # warnings only
    cache_hits: int = 0
    signed: bool = False
    unchanged: bool = False  # OUT already held exactly this bundle: nothing was written
