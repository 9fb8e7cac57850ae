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
        AgentConfig,
        BuildResult,
        ChannelMove,
        CheckResult,
        Compilation,
        DiffResult,
        EditResult,
        Explanation,
        HistoryEntry,
        InitResult,
        KeyPair,
        KeyPlan,
        Keyring,
        Leaf,
        PublishReport,
        PullResult,
        SignResult,
        Store,
        Target,
        ValidationResult,
        VerificationFailed,
        VerifyReport,
        VersionRow,
        build_bundle,
        build_part,
        check,
        compile_repo,
        decrypt_secrets,
        default_keyring,
        diff_refs,
        edit_secrets,
        encrypt_secrets,
        explain_target,
        explain_value,
        export_kms_key,
        find_repo,
        generate_keys,
        init_repo,
        key_id,
        list_versions,
        merge_parts,
        open_store,
        promote,
        publish,
        pull,
        refresh_channel,
        repo_roots,
        repos_below,
        rotate_keys,
        run_agent,
        set_secret,
        sign_bundle,
        update_keys,
        validate,
        value_history,
        verify_bundle,
    )
    from cfgc.base.errors import (
        CfgcError,
        ExternalError,
        InputError,
        IntegrityError,
        InvalidConfig,
        UsageError,
    )

__all__ = [
    "AgentConfig",
    "BuildResult",
    "CfgcError",
    "ChannelMove",
    "CheckResult",
    "Compilation",
    "DiffResult",
    "EditResult",
    "Explanation",
    "ExternalError",
    "HistoryEntry",
    "InitResult",
    "InputError",
    "IntegrityError",
    "InvalidConfig",
    "KeyPair",
    "KeyPlan",
    "Keyring",
    "Leaf",
    "PublishReport",
    "PullResult",
    "SignResult",
    "Store",
    "Target",
    "UsageError",
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

# Where each exported name lives; the API's own module imports nothing heavy (it re-exports the
# result types of lower packages lazily too).
_HOMES = {
    **dict.fromkeys(__all__, "cfgc.api"),
    **dict.fromkeys(("CfgcError", "ExternalError", "InputError", "IntegrityError", "InvalidConfig", "UsageError"),
                    "cfgc.base.errors"),
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
