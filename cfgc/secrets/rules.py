"""Which leaves of a SOPS document are encrypted.

A file carries at most one selection rule (recorded in its metadata).  Every key
on the path from the root to the leaf is tested; regexes are unanchored searches
(Go ``regexp.Match``).  Without a rule SOPS uses ``unencrypted_suffix:
_unencrypted``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

from cfgc.base.errors import InputError

DEFAULT_UNENCRYPTED_SUFFIX = "_unencrypted"
RULE_KINDS = (
    "unencrypted_suffix",
    "encrypted_suffix",
    "unencrypted_regex",
    "encrypted_regex",
    "unencrypted_comment_regex",
    "encrypted_comment_regex",
)


@dataclass(frozen=True)
class EncryptionRule:
    """One selection rule: ``kind`` is one of :data:`RULE_KINDS`."""

    kind: str = "unencrypted_suffix"
    value: str = DEFAULT_UNENCRYPTED_SUFFIX

    def __post_init__(self) -> None:
        if self.kind not in RULE_KINDS:
            raise InputError(f"unknown encryption rule {self.kind!r}")
        if self.kind.endswith("_regex"):
            try:
                re.compile(self.value)
            except re.error as e:
                raise InputError(f"{self.kind} is not a valid regex: {e}") from None

    @cached_property
    def _regex(self) -> re.Pattern[str]:
        return re.compile(self.value)

    def should_encrypt(self, path: Sequence[str]) -> bool:
        """Whether the leaf at ``path`` (keys only, no list indexes) is encrypted."""
        kind = self.kind
        if kind == "unencrypted_suffix":
            return not any(k.endswith(self.value) for k in path)
        if kind == "encrypted_suffix":
            return any(k.endswith(self.value) for k in path)
        if kind == "unencrypted_regex":
            return not any(self._regex.search(k) for k in path)
        if kind == "encrypted_regex":
            return any(self._regex.search(k) for k in path)
        # Comment regexes select by comments; cfgc does not keep comments, so
        # every value is treated as SOPS does when no comment matches.
        return kind == "unencrypted_comment_regex"


DEFAULT_RULE = EncryptionRule()


def rule_from_mapping(
    m: Mapping[str, object], default: EncryptionRule | None = DEFAULT_RULE
) -> EncryptionRule | None:
    """The single rule named in ``m`` (metadata or creation rule); error if several."""
    found = [(k, m[k]) for k in RULE_KINDS if m.get(k) not in (None, "")]
    if len(found) > 1:
        names = ", ".join(k for k, _ in found)
        raise InputError(f"only one encryption rule may be set, found: {names}")
    if not found:
        return default
    kind, value = found[0]
    if not isinstance(value, str):
        raise InputError(f"{kind} must be a string")
    return EncryptionRule(kind, value)
