"""Native SOPS v3 file support: read and write files the ``sops`` binary reads and writes.

Typical use::

    from cfgc.secrets import decrypt_file, default_keyring
    tree = decrypt_file("tenants/acme/secrets.yaml", default_keyring())

See ``docs/secrets.md`` for the key model (who holds which key).

May import: cfgc.base, cfgc.repo.
"""

import importlib
from typing import TYPE_CHECKING, Any

# Names are imported on first use: the compiler imports this package for its
# hygiene checks and must not pay for cryptography on every build.
_HOMES = {
    "EncryptedValue": "cipher", "format_go_float": "cipher",
    "CreationRule": "creation_rules", "find_config": "creation_rules", "rule_for": "creation_rules",
    "DecryptedDocument": "document", "Stash": "document", "decrypt_document": "document",
    "decrypt_tree": "document", "encrypt_document": "document", "encrypt_tree": "document",
    "is_encrypted": "document", "split_document": "document",
    "Keyring": "keysources", "KeySource": "keysources", "KeyUnavailable": "keysources",
    "default_keyring": "keysources",
    "AgeKey": "metadata", "KmsKey": "metadata", "OpaqueKey": "metadata", "SopsMetadata": "metadata",
    "KeyPlan": "rekey", "decrypt_file": "ops", "encrypt_file": "ops", "open_file": "ops",
    "rotate": "rekey", "save": "ops", "set_value": "ops", "updatekeys": "rekey",
    "DEFAULT_RULE": "rules", "EncryptionRule": "rules",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'cfgc.secrets' has no attribute {name!r}")
    return getattr(importlib.import_module(f"cfgc.secrets.{home}"), name)


if TYPE_CHECKING:  # for type checkers and editors
    from cfgc.secrets.cipher import EncryptedValue, format_go_float
    from cfgc.secrets.creation_rules import CreationRule, find_config, rule_for
    from cfgc.secrets.document import (
        DecryptedDocument,
        Stash,
        decrypt_document,
        decrypt_tree,
        encrypt_document,
        encrypt_tree,
        is_encrypted,
        split_document,
    )
    from cfgc.secrets.keysources import Keyring, KeySource, KeyUnavailable, default_keyring
    from cfgc.secrets.metadata import AgeKey, KmsKey, OpaqueKey, SopsMetadata
    from cfgc.secrets.ops import decrypt_file, encrypt_file, open_file, save, set_value
    from cfgc.secrets.rekey import KeyPlan, rotate, updatekeys
    from cfgc.secrets.rules import DEFAULT_RULE, EncryptionRule

__all__ = [
    "DEFAULT_RULE",
    "AgeKey",
    "CreationRule",
    "DecryptedDocument",
    "EncryptedValue",
    "EncryptionRule",
    "KeyPlan",
    "KeySource",
    "KeyUnavailable",
    "Keyring",
    "KmsKey",
    "OpaqueKey",
    "SopsMetadata",
    "Stash",
    "decrypt_document",
    "decrypt_file",
    "decrypt_tree",
    "default_keyring",
    "encrypt_document",
    "encrypt_file",
    "encrypt_tree",
    "find_config",
    "format_go_float",
    "is_encrypted",
    "open_file",
    "rotate",
    "rule_for",
    "save",
    "set_value",
    "split_document",
    "updatekeys",
]
