"""The public Python API of cfgc: what the ``cfgc`` commands call, for use in tests and tools.

Import it from the package: ``from cfgc import compile_repo``.  Every function
returns a frozen result object and raises only :class:`cfgc.base.errors.CfgcError`
subclasses (each carries the exit code the command line would use).  See
docs/api.md.  :mod:`cfgc.api.render` holds the renderers the commands print with.

May import: every cfgc package below it (each function imports what it needs
when called, so importing this package stays cheap); the result types that
live in lower packages are re-exported here and loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cfgc.api._build_result import BuildResult
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

if TYPE_CHECKING:
    from cfgc.api._pull import pull
    from cfgc.api._results import Compilation, Leaf, PullResult, Target, ValidationResult
    from cfgc.api._secrets import (
        decrypt_secrets,
        default_keyring,
        edit_secrets,
        encrypt_secrets,
        rotate_keys,
        set_secret,
        update_keys,
    )
    from cfgc.api._signing import (
        KeyPair,
        SignResult,
        export_kms_key,
        generate_keys,
        key_id,
        sign_bundle,
        verify_bundle,
    )
    from cfgc.api._stores import list_versions, open_store, promote, publish, refresh_channel
    from cfgc.api._workspace import (
        InitResult,
        find_repo,
        init_repo,
        repo_roots,
        repos_below,
        value_history,
    )
    from cfgc.bundle.attest import VerificationFailed, VerifyReport
    from cfgc.compile.explain import Explanation
    from cfgc.review.checks import CheckResult
    from cfgc.review.diff import DiffResult
    from cfgc.review.history import HistoryEntry
    from cfgc.runtime.agent.launch import AgentConfig, run_agent
    from cfgc.secrets.editing import EditResult
    from cfgc.secrets.keysources import Keyring
    from cfgc.secrets.rekey import KeyPlan
    from cfgc.stores import Store
    from cfgc.stores.publish import ChannelMove, PublishReport, VersionRow

# Names loaded when first asked for, as cfgc/__init__.py does: those of lower packages,
# and the API modules a build does not use (a warm build's start-up is measured in ms).
_HOMES = {
    "Compilation": "cfgc.api._results",
    "Leaf": "cfgc.api._results",
    "PullResult": "cfgc.api._results",
    "Target": "cfgc.api._results",
    "ValidationResult": "cfgc.api._results",
    "InitResult": "cfgc.api._workspace",
    "KeyPair": "cfgc.api._signing",
    "SignResult": "cfgc.api._signing",
    "decrypt_secrets": "cfgc.api._secrets",
    "default_keyring": "cfgc.api._secrets",
    "edit_secrets": "cfgc.api._secrets",
    "encrypt_secrets": "cfgc.api._secrets",
    "export_kms_key": "cfgc.api._signing",
    "find_repo": "cfgc.api._workspace",
    "generate_keys": "cfgc.api._signing",
    "init_repo": "cfgc.api._workspace",
    "key_id": "cfgc.api._signing",
    "list_versions": "cfgc.api._stores",
    "open_store": "cfgc.api._stores",
    "promote": "cfgc.api._stores",
    "publish": "cfgc.api._stores",
    "pull": "cfgc.api._pull",
    "refresh_channel": "cfgc.api._stores",
    "repo_roots": "cfgc.api._workspace",
    "repos_below": "cfgc.api._workspace",
    "rotate_keys": "cfgc.api._secrets",
    "set_secret": "cfgc.api._secrets",
    "sign_bundle": "cfgc.api._signing",
    "update_keys": "cfgc.api._secrets",
    "value_history": "cfgc.api._workspace",
    "verify_bundle": "cfgc.api._signing",
    "AgentConfig": "cfgc.runtime.agent.launch",
    "ChannelMove": "cfgc.stores.publish",
    "CheckResult": "cfgc.review.checks",
    "DiffResult": "cfgc.review.diff",
    "EditResult": "cfgc.secrets.editing",
    "Explanation": "cfgc.compile.explain",
    "HistoryEntry": "cfgc.review.history",
    "KeyPlan": "cfgc.secrets.rekey",
    "Keyring": "cfgc.secrets.keysources",
    "PublishReport": "cfgc.stores.publish",
    "Store": "cfgc.stores",
    "VerificationFailed": "cfgc.bundle.attest",
    "VerifyReport": "cfgc.bundle.attest",
    "VersionRow": "cfgc.stores.publish",
    "run_agent": "cfgc.runtime.agent.launch",
}

__all__ = [
    "AgentConfig",
    "BuildResult",
    "ChannelMove",
    "CheckResult",
    "Compilation",
    "DiffResult",
    "EditResult",
    "Explanation",
    "HistoryEntry",
    "InitResult",
    "KeyPair",
    "KeyPlan",
    "Keyring",
    "Leaf",
    "PublishReport",
    "PullResult",
    "SignResult",
    "Store",
    "Target",
    "ValidationResult",
    "VerificationFailed",
    "VerifyReport",
    "VersionRow",
    "build_bundle",
    "build_part",
    "check",
    "compile_repo",
    "decrypt_secrets",
    "default_keyring",
    "diff_refs",
    "edit_secrets",
    "encrypt_secrets",
    "explain_target",
    "explain_value",
    "export_kms_key",
    "find_repo",
    "generate_keys",
    "init_repo",
    "key_id",
    "list_versions",
    "merge_parts",
    "open_store",
    "promote",
    "publish",
    "pull",
    "refresh_channel",
    "repo_roots",
    "repos_below",
    "rotate_keys",
    "run_agent",
    "set_secret",
    "sign_bundle",
    "update_keys",
    "validate",
    "value_history",
    "verify_bundle",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'cfgc.api' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
