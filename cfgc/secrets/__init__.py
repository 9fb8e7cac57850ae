"""Native SOPS v3 file support: read and write files the ``sops`` binary reads and writes.

Typical use::

    from cfgc.secrets import decrypt_file, default_keyring
    tree = decrypt_file("tenants/acme/secrets.yaml", default_keyring())

See ``docs/secrets.md`` for the key model (who holds which key).
"""

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
from cfgc.secrets.ops import (
    KeyPlan,
    decrypt_file,
    encrypt_file,
    open_file,
    rotate,
    save,
    set_value,
    updatekeys,
)
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
