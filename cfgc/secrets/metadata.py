"""The ``sops:`` metadata block: master keys, key groups, MAC and selection rule."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from cfgc.base.errors import InputError
from cfgc.secrets.rules import DEFAULT_RULE, EncryptionRule, rule_from_mapping

FORMAT_VERSION = "3.11.0"
_KIND_ORDER = ("kms", "gcp_kms", "hckms", "azure_kv", "hc_vault", "age", "pgp")
# sops writes metadata fields in its struct order (checked against sops 3.11).
_TOP_ORDER = (
    "shamir_threshold", "key_groups", "kms", "gcp_kms", "hckms", "azure_kv", "hc_vault", "age",
    "lastmodified", "mac", "pgp", "unencrypted_suffix", "encrypted_suffix", "unencrypted_regex",
    "encrypted_regex", "unencrypted_comment_regex", "encrypted_comment_regex",
    "mac_only_encrypted", "version",
)  # fmt: skip
_GROUP_ORDER = ("pgp", "kms", "gcp_kms", "hckms", "azure_kv", "hc_vault", "age")
_ALWAYS_IN_GROUP = ("hc_vault", "age")


def recipient_spelling(recipient: str, where: str = "") -> str:
    """``recipient`` stripped; an ``age1`` recipient not in lower case is refused (exit 1).

    bech32 is case-insensitive, but sops refuses a recipient in upper case (as
    an unknown type) and mixed case is invalid bech32: files cfgc wrote for it
    could not be matched to their identity by sops's rules.  Here rather than in
    :mod:`cfgc.secrets.keysources.age` (whose ``check_recipient`` also parses):
    every ``.sops.yaml`` rule is checked this way on each compile that reads a
    SOPS file, and that needs no key source.
    """
    r = recipient.strip()
    at = f"{where}: " if where else ""
    if r.lower().startswith("age1") and r != r.lower():
        raise InputError(
            f"{at}age recipient {r!r} is not in lower case (sops refuses it); write {r.lower()!r}"
            if r == r.upper()
            else f"{at}age recipient {r!r} mixes upper and lower case (invalid bech32)"
        )
    return r


@dataclass(frozen=True)
class AgeKey:
    """An age X25519 recipient and the data key (part) encrypted to it (armored)."""

    recipient: str
    enc: str = ""
    kind = "age"

    @property
    def ident(self) -> str:
        return self.recipient

    def to_dict(self) -> dict[str, Any]:
        return {"recipient": self.recipient, "enc": self.enc}


@dataclass(frozen=True)
class KmsKey:
    """An AWS KMS key; ``enc`` is base64 of the CiphertextBlob."""

    arn: str
    enc: str = ""
    created_at: str = ""
    context: tuple[tuple[str, str], ...] = ()
    role: str = ""
    aws_profile: str = ""
    kind = "kms"

    @property
    def ident(self) -> str:
        return self.arn + (f"+{self.role}" if self.role else "")

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"arn": self.arn}
        if self.role:
            d["role"] = self.role
        if self.context:
            d["context"] = dict(sorted(self.context))
        d.update(created_at=self.created_at, enc=self.enc, aws_profile=self.aws_profile)
        return d


@dataclass(frozen=True)
class OpaqueKey:
    """A key type cfgc does not handle natively (pgp, gcp_kms, ...), kept as written."""

    kind: str
    fields: tuple[tuple[str, Any], ...]

    @property
    def ident(self) -> str:
        f = dict(self.fields)
        for name in ("fp", "resource_id", "key_id", "vault_url", "vault_address"):
            if name in f:
                return f"{self.kind}:{f[name]}"
        return f"{self.kind}:?"

    @property
    def enc(self) -> str:
        return str(dict(self.fields).get("enc", ""))

    def to_dict(self) -> dict[str, Any]:
        return dict(self.fields)


MasterKey = AgeKey | KmsKey | OpaqueKey
KeyGroup = tuple[MasterKey, ...]


def now_rfc3339() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class SopsMetadata:
    """Everything under the ``sops:`` key of an encrypted document."""

    key_groups: tuple[KeyGroup, ...]
    lastmodified: str = ""
    mac: str = ""
    version: str = FORMAT_VERSION
    rule: EncryptionRule = DEFAULT_RULE
    mac_only_encrypted: bool = False
    shamir_threshold: int = 0
    extra: tuple[tuple[str, Any], ...] = field(default=())

    def recipients(self) -> list[str]:
        """Identifiers of every master key (age recipients, KMS ARNs, ...)."""
        return [k.ident for g in self.key_groups for k in g]

    def with_(self, **changes: Any) -> SopsMetadata:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The metadata as SOPS writes it (fields in sops' order)."""
        d: dict[str, Any] = {}
        if len(self.key_groups) == 1:
            d.update(_group_to_dict(self.key_groups[0], False))
        else:
            d["key_groups"] = [_group_to_dict(g, True) for g in self.key_groups]
            d["shamir_threshold"] = self.shamir_threshold or len(self.key_groups)
        d["lastmodified"] = self.lastmodified
        d["mac"] = self.mac
        d["version"] = self.version
        d[self.rule.kind] = self.rule.value
        if self.mac_only_encrypted:
            d["mac_only_encrypted"] = True
        out = {k: d[k] for k in _TOP_ORDER if k in d}
        out.update((k, v) for k, v in self.extra if k not in out)
        return out

    @classmethod
    def from_dict(cls, m: Mapping[str, Any]) -> SopsMetadata:
        if not isinstance(m, Mapping):
            raise InputError("the sops metadata is not a mapping")
        for name in ("mac", "lastmodified", "version"):
            if not isinstance(m.get(name), str):
                raise InputError(f"sops metadata lacks a string {name!r}")
        if "key_groups" in m and m["key_groups"]:
            groups_raw = m["key_groups"]
            if not isinstance(groups_raw, list):
                raise InputError("sops.key_groups must be a list")
            groups = tuple(_group_from_dict(g) for g in groups_raw)
        else:
            groups = (_group_from_dict(m),)
        rule = rule_from_mapping(m)
        assert rule is not None
        if rule.kind.endswith("comment_regex"):
            raise InputError(f"files using {rule.kind} need the sops binary (cfgc drops comments)")
        known = {
            "key_groups",
            "shamir_threshold",
            "lastmodified",
            "mac",
            "version",
            "mac_only_encrypted",
            *_KIND_ORDER,
        }
        known.update(k for k in m if k.endswith(("_suffix", "_regex")))
        extra = tuple((k, v) for k, v in m.items() if k not in known)
        return cls(
            key_groups=groups,
            lastmodified=m["lastmodified"],
            mac=m["mac"],
            version=m["version"],
            rule=rule,
            mac_only_encrypted=bool(m.get("mac_only_encrypted", False)),
            shamir_threshold=int(m.get("shamir_threshold") or 0),
            extra=extra,
        )


def _group_to_dict(group: KeyGroup, in_key_groups: bool) -> dict[str, Any]:
    out: dict[str, list[dict[str, Any]]] = {}
    for kind in _GROUP_ORDER:
        items = [k.to_dict() for k in group if k.kind == kind]
        if items or (in_key_groups and kind in _ALWAYS_IN_GROUP):
            out[kind] = items
    return out


def _group_from_dict(m: Any) -> KeyGroup:
    if not isinstance(m, Mapping):
        raise InputError("a sops key group is not a mapping")
    keys: list[MasterKey] = []
    for kind in _KIND_ORDER:
        items = m.get(kind) or []
        if not isinstance(items, list):
            raise InputError(f"sops.{kind} must be a list")
        for item in items:
            if not isinstance(item, Mapping):
                raise InputError(f"an entry of sops.{kind} is not a mapping")
            keys.append(_key_from_dict(kind, item))
    return tuple(keys)


def _key_from_dict(kind: str, d: Mapping[str, Any]) -> MasterKey:
    def s(name: str) -> str:
        v = d.get(name)
        return "" if v is None else str(v)

    if kind == "age":
        return AgeKey(recipient=s("recipient"), enc=s("enc"))
    if kind == "kms":
        ctx = d.get("context") or {}
        if not isinstance(ctx, Mapping):
            raise InputError("sops.kms[].context must be a mapping")
        return KmsKey(
            arn=s("arn"),
            enc=s("enc"),
            created_at=s("created_at"),
            context=tuple((str(k), str(v)) for k, v in ctx.items()),
            role=s("role"),
            aws_profile=s("aws_profile"),
        )
    return OpaqueKey(kind=kind, fields=tuple(d.items()))
