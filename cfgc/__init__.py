"""cfgc: a GitOps config compiler for LLM platform configuration.

The public API (docs/api.md) is exported here and loaded on first use, so
``import cfgc`` (and the command line) does not pay for the compiler's
dependencies until a function is called::

    from cfgc import compile_repo

    prod = compile_repo("config", targets="*/prod/*")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from cfgc.api import (
        BuildResult,
        Compilation,
        Leaf,
        PullResult,
        Target,
        ValidationResult,
        build_bundle,
        build_part,
        check,
        compile_repo,
        diff_refs,
        explain_target,
        explain_value,
        merge_parts,
        pull,
        validate,
    )
    from cfgc.base.errors import (
        CfgcError,
        ExternalError,
        InputError,
        IntegrityError,
        InvalidConfig,
        UsageError,
    )
    from cfgc.compile.explain import Explanation
    from cfgc.review.checks import CheckResult
    from cfgc.review.diff import DiffResult

__all__ = [
    "BuildResult",
    "CfgcError",
    "CheckResult",
    "Compilation",
    "DiffResult",
    "Explanation",
    "ExternalError",
    "InputError",
    "IntegrityError",
    "InvalidConfig",
    "Leaf",
    "PullResult",
    "Target",
    "UsageError",
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

# Where each exported name lives; the API's own module imports nothing heavy.
_HOMES = {
    **dict.fromkeys(__all__, "cfgc.api"),
    **dict.fromkeys(("CfgcError", "ExternalError", "InputError", "IntegrityError", "InvalidConfig", "UsageError"),
                    "cfgc.base.errors"),
    "CheckResult": "cfgc.review.checks",
    "DiffResult": "cfgc.review.diff",
    "Explanation": "cfgc.compile.explain",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'cfgc' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
