"""``.sops.yaml`` creation rules: which master keys and selection rule a file gets.

The first rule whose ``path_regex`` matches (unanchored search) the file's path,
relative to the directory holding ``.sops.yaml``, wins; a rule without
``path_regex`` matches everything; no match is an error.  cfgc looks for
``.sops.yaml`` from the file's directory upwards (sops starts from the current
directory; in a repository both find the same file).  ``SOPS_AGE_RECIPIENTS``
replaces the rule's keys when encrypting a new file, as in sops.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfgc.base.bounded_read import read_file
from cfgc.base.errors import InputError
from cfgc.base.kept import Kept
from cfgc.secrets.metadata import (
    AgeKey,
    KeyGroup,
    KmsKey,
    MasterKey,
    OpaqueKey,
    SopsMetadata,
    recipient_spelling,
)
from cfgc.secrets.rules import DEFAULT_RULE, EncryptionRule, rule_from_mapping

CONFIG_NAMES = (".sops.yaml", ".sops.yml")
MAX_DEPTH = 100
# What .sops.yaml files parsed to in this process, by their bytes: an in-place
# build hands it what the authenticated state of its --out kept, so an unchanged
# file is not parsed again and PyYAML is not imported (cfgc.base.kept).
PARSED = Kept()


@dataclass(frozen=True)
class CreationRule:
    """The keys and settings a matching file is encrypted with."""

    key_groups: tuple[KeyGroup, ...]
    shamir_threshold: int = 0
    rule: EncryptionRule = DEFAULT_RULE
    mac_only_encrypted: bool = False
    path_regex: str = ""

    def recipients(self) -> list[str]:
        return [k.ident for g in self.key_groups for k in g]


def find_config(start: str | os.PathLike[str]) -> Path | None:
    """The nearest ``.sops.yaml`` at or above ``start``."""
    here = Path(start).resolve()
    if here.is_file():
        here = here.parent
    for _ in range(MAX_DEPTH):
        for name in CONFIG_NAMES:
            cand = here / name
            if cand.is_file():
                return cand
        if here.parent == here:
            return None
        here = here.parent
    return None


def _list(value: Any, what: str) -> list[str]:
    """sops accepts a comma-separated string or a list of strings."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    raise InputError(f"{what} must be a string or a list of strings")


def _kms_from_arn(text: str, profile: str) -> KmsKey:
    text = text.replace(" ", "")
    arn, _, role = text.partition("+arn:")
    return KmsKey(arn=arn, role=f"arn:{role}" if role else "", aws_profile=profile)


def _group(m: Mapping[str, Any], profile: str, where: str) -> KeyGroup:
    keys: list[MasterKey] = [
        AgeKey(recipient_spelling(r, f"{where}.age")) for r in _list(m.get("age"), f"{where}.age")
    ]
    kms = m.get("kms")
    if isinstance(kms, list) and kms and all(isinstance(k, Mapping) for k in kms):
        for k in kms:
            ctx = k.get("context") or {}
            keys.append(
                KmsKey(
                    arn=str(k.get("arn", "")),
                    role=str(k.get("role") or ""),
                    context=tuple(sorted((str(a), str(b)) for a, b in ctx.items())),
                    aws_profile=str(k.get("aws_profile") or profile),
                )
            )
    else:
        keys += [_kms_from_arn(a, profile) for a in _list(kms, f"{where}.kms")]
    for kind in ("pgp", "gcp_kms", "azure_keyvault", "hc_vault_transit_uri", "hckms"):
        keys += [OpaqueKey(kind, (("id", v),)) for v in _list(m.get(kind), f"{where}.{kind}")]
    return tuple(keys)


def parse_rule(raw: Mapping[str, Any], where: str) -> CreationRule:
    profile = str(raw.get("aws_profile") or "")
    if raw.get("key_groups"):
        if not isinstance(raw["key_groups"], list):
            raise InputError(f"{where}.key_groups must be a list")
        groups = tuple(
            _group(g, profile, f"{where}.key_groups[{i}]") for i, g in enumerate(raw["key_groups"])
        )
    else:
        groups = (_group(raw, profile, where),)
    groups = tuple(g for g in groups if g)
    if not groups:
        raise InputError(f"{where}: the creation rule names no master keys")
    rule = rule_from_mapping(raw) or DEFAULT_RULE
    threshold = int(raw.get("shamir_threshold") or 0)
    if len(groups) > 1 and not 0 <= threshold <= len(groups):
        raise InputError(f"{where}: shamir_threshold exceeds the number of key groups")
    return CreationRule(
        groups,
        threshold,
        rule,
        bool(raw.get("mac_only_encrypted")),
        str(raw.get("path_regex") or ""),
    )


def load_rules(config: str | os.PathLike[str]) -> list[CreationRule]:
    """The creation rules of a ``.sops.yaml`` file, in order."""
    p = Path(config)
    try:
        text = read_file(p).decode("utf-8")
    except OSError as e:
        raise InputError(f"cannot read {p}: {e.strerror}") from None
    return parse_rules(text, str(p))


def parse_rules(text: str | bytes, origin: str = CONFIG_NAMES[0]) -> list[CreationRule]:
    """The creation rules of ``.sops.yaml`` text (``origin`` names it in errors)."""
    name = Path(origin).name
    raw = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
    data = PARSED.get(raw)
    if data is None:
        import yaml

        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError:
            raise InputError(f"{origin}: invalid YAML") from None
        PARSED.put(raw, data)
    rules = data.get("creation_rules") if isinstance(data, Mapping) else None
    if not isinstance(rules, list) or not rules:
        raise InputError(f"{origin}: no creation_rules")
    out = []
    for i, r in enumerate(rules):
        if not isinstance(r, Mapping):
            raise InputError(f"{origin}: creation_rules[{i}] is not a mapping")
        pr = r.get("path_regex")
        if pr:
            try:
                re.compile(str(pr))
            except re.error as e:
                raise InputError(f"{origin}: creation_rules[{i}].path_regex: {e}") from None
        out.append((r, f"{name}: creation_rules[{i}]"))
    return [parse_rule(r, where) for r, where in out]


def match_rule(rules: list[CreationRule], rel: str) -> CreationRule | None:
    """The first rule whose ``path_regex`` is found in ``rel`` (POSIX, relative to the config)."""
    for rule in rules:
        if not rule.path_regex or re.search(rule.path_regex, rel):
            return rule
    return None


@dataclass(frozen=True)
class KeyDrift:
    """How a file's master keys differ from what its creation rule names now."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    groups_same: bool  # same keys in the same groups (and the same Shamir threshold)

    @property
    def drifted(self) -> bool:
        return not self.groups_same


def key_drift(meta: SopsMetadata, rule: CreationRule) -> KeyDrift:
    """Compare the keys recorded in ``meta`` with those ``rule`` names."""
    old, new = meta.recipients(), rule.recipients()
    same_shape = len(meta.key_groups) == len(rule.key_groups) and (
        len(rule.key_groups) == 1 or rule.shamir_threshold == meta.shamir_threshold
    )
    groups_same = same_shape and [sorted(k.ident for k in g) for g in meta.key_groups] == [
        sorted(k.ident for k in g) for g in rule.key_groups
    ]
    return KeyDrift(
        tuple(r for r in new if r not in old), tuple(r for r in old if r not in new), groups_same
    )


def rule_for(
    file: str | os.PathLike[str], config: str | os.PathLike[str] | None = None
) -> tuple[CreationRule, Path]:
    """The creation rule for ``file`` and the config it came from."""
    cfg = (
        Path(config)
        if config
        else find_config(Path(file).parent if not Path(file).is_dir() else file)
    )
    if cfg is None:
        raise InputError(f"no .sops.yaml found above {file}: add creation_rules or pass --config")
    rel = _relative(file, cfg)
    rule = match_rule(load_rules(cfg), rel)
    if rule is None:
        raise InputError(f"{cfg}: no creation rule matches {rel}")
    return rule, cfg


def _relative(file: str | os.PathLike[str], cfg: Path) -> str:
    abs_file = Path(file).resolve()
    try:
        return abs_file.relative_to(cfg.resolve().parent).as_posix()
    except ValueError:
        return abs_file.as_posix()


def env_recipients() -> tuple[str, ...]:
    """The recipients of ``$SOPS_AGE_RECIPIENTS`` (comma-separated; empty when unset)."""
    age = _age()
    raw = os.environ.get(age.RECIPIENTS_ENV) or ""
    return tuple(age.check_recipient(r, age.RECIPIENTS_ENV, parse=True) for r in raw.split(",") if r.strip())


def _age() -> Any:
    """The age key source, imported when a rule names age keys (pyrage costs a build that has none ~5 ms)."""
    from cfgc.secrets.keysources import age

    return age


def rule_for_new_file(
    file: str | os.PathLike[str], config: str | os.PathLike[str] | None = None
) -> CreationRule:
    """The creation rule a new file is encrypted with.

    As sops: when ``$SOPS_AGE_RECIPIENTS`` is set, its recipients replace the
    rule's master keys (the rule's selection settings still apply when a rule
    matches; without ``.sops.yaml`` or a matching rule the defaults do).
    """
    override = env_recipients()
    if not override:
        return rule_for(file, config)[0]
    base = CreationRule(key_groups=())
    cfg = Path(config) if config else find_config(Path(file).parent)
    if cfg is not None:  # an invalid .sops.yaml is still an error
        base = match_rule(load_rules(cfg), _relative(file, cfg)) or base
    groups: tuple[KeyGroup, ...] = (tuple(AgeKey(r) for r in override),)
    return CreationRule(groups, 0, base.rule, base.mac_only_encrypted, base.path_regex)
