"""The public Python API of cfgc: what the ``cfgc`` commands call, for use in tests and tools.

Import it from the package: ``from cfgc import compile_repo``.  Every function
returns a frozen result object and raises only :class:`cfgc.base.errors.CfgcError`
subclasses (each carries the exit code the command line would use).  See
docs/api.md.
"""

from __future__ import annotations

from cfgc.api._pull import pull
from cfgc.api._repo import (
    build_bundle,
    build_part,
    check,
    compile_repo,
    diff_refs,
    explain_target,
    explain_value,
    merge_parts,
    validate,
)
from cfgc.api._results import BuildResult, Compilation, Leaf, PullResult, Target, ValidationResult

__all__ = [
    "BuildResult",
    "Compilation",
    "Leaf",
    "PullResult",
    "Target",
    "ValidationResult",
    "build_bundle",
    "build_part",
    "check",
    "compile_repo",
    "diff_refs",
    "explain_target",
    "explain_value",
    "merge_parts",
    "pull",
    "validate",
]
