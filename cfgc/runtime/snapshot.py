"""Immutable snapshots of a verified version: what every read looks at.

A :class:`BundleSnapshot` is built once per version (off the read path) and
never changes; the client swaps the reference to the current one in a single
assignment, so a reader sees either the old version or the new one, never a
mix.  Each target has a flat dict of every dotted path (``models.primary``,
``models.primary.timeout_s``, ``routing.fallbacks.0``) to its value, so a read
is one dict lookup; containers are frozen (:class:`FrozenDict`, tuples) so no
reader can change what another reader sees.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from cfgc.errors import InputError
from cfgc.runtime.fetch import Verified
from cfgc.secretrefs import SECRET_KEY


class ConfigError(InputError, KeyError):
    """A path that is not in the configuration (also a KeyError)."""

    def __str__(self) -> str:
        return f"error: {self.message}"


class FrozenDict(dict[str, Any]):
    """A dict that refuses changes (json.dumps still works: it is a dict)."""

    def _readonly(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("configuration values are read-only")

    __setitem__ = __delitem__ = update = pop = popitem = clear = setdefault = __ior__ = _readonly

    def __reduce__(self) -> Any:
        return (dict, (dict(self),))


@dataclass(frozen=True)
class SecretReference:
    """Where a secret lives: SOPS document (bundle-relative name), key path, declared type."""

    file: str
    path: tuple[str | int, ...]
    type: str

    def __repr__(self) -> str:
        return f"<secret {self.file}:{'.'.join(map(str, self.path))}>"


def secret_reference(value: Any) -> SecretReference | None:
    """The reference a compiled ``{"$secret": {...}}`` value holds, if it is one."""
    if type(value) is dict and len(value) == 1 and SECRET_KEY in value:
        ref = value[SECRET_KEY]
        if isinstance(ref, dict) and isinstance(ref.get("file"), str) and isinstance(ref.get("path"), list):
            return SecretReference(ref["file"], tuple(ref["path"]), str(ref.get("type", "str")))
    return None


def freeze(value: Any) -> Any:
    t = type(value)
    if t is dict:
        return FrozenDict({k: freeze(v) for k, v in value.items()})
    if t is list:
        return tuple(freeze(v) for v in value)
    return value


def flatten(value: Any) -> tuple[dict[str, Any], dict[str, SecretReference]]:
    """(dotted path -> frozen value, dotted path -> secret reference) of a target."""
    flat: dict[str, Any] = {}
    secrets: dict[str, SecretReference] = {}

    def walk(v: Any, prefix: str) -> Any:
        ref = secret_reference(v)
        if ref is not None:
            secrets[prefix] = ref
            frozen = freeze(v)
            flat[prefix] = ref
            return frozen
        t = type(v)
        if t is dict:
            frozen = FrozenDict({k: walk(x, f"{prefix}.{k}" if prefix else str(k)) for k, x in v.items()})
        elif t is list:
            frozen = tuple(walk(x, f"{prefix}.{i}" if prefix else str(i)) for i, x in enumerate(v))
        else:
            frozen = v
        if prefix:
            flat[prefix] = frozen
        return frozen

    walk(value, "")
    return flat, secrets


@dataclass(frozen=True, eq=False)
class TargetSnapshot:
    """One target of one version."""

    name: str
    version: str
    value: Any = field(repr=False)  # the compiled JSON value (not frozen; never handed to readers)
    tree: Any = field(repr=False)  # frozen
    flat: Mapping[str, Any] = field(repr=False)
    secrets: Mapping[str, SecretReference] = field(repr=False)
    raw: bytes = field(repr=False)  # the canonical JSON bytes as published

    def missing(self, path: str) -> ConfigError:
        parent, _, _ = path.rpartition(".")
        while parent and parent not in self.flat:
            parent, _, _ = parent.rpartition(".")
        near = self.flat.get(parent, self.tree) if parent else self.tree
        keys = ", ".join(sorted(map(str, near))[:12]) if isinstance(near, dict) else ""
        hint = f" ({parent or 'the root'} has: {keys})" if keys else ""
        return ConfigError(f"{self.name}@{self.version}: no value at {path!r}{hint}")


@dataclass(frozen=True, eq=False)
class BundleSnapshot:
    """Everything readers need from one verified version."""

    verified: Verified = field(repr=False)
    targets: Mapping[str, TargetSnapshot] = field(repr=False)
    origin: str  # "source" or "cache"
    manifest: Mapping[str, Any] = field(repr=False, default_factory=dict)
    loaded_at: float = field(default_factory=time.time)
    prompts: dict[str, Any] = field(repr=False, default_factory=dict)  # pinned -> Prompt, filled on first use

    @property
    def version(self) -> str:
        return self.verified.version

    @property
    def serial(self) -> int:
        return self.verified.pointer.serial

    @property
    def manifest_digest(self) -> str:
        return self.verified.pointer.manifest_digest

    def file(self, path: str) -> bytes | None:
        return self.verified.files.get(path)


def build(v: Verified, origin: str) -> BundleSnapshot:
    """The snapshot of a verified version (parses and flattens every selected target)."""
    targets: dict[str, TargetSnapshot] = {}
    for name in v.targets:
        raw = v.files[f"targets/{name}.json"]
        try:
            value = json.loads(raw)
        except ValueError:
            raise InputError(f"version {v.version}: target {name} is not JSON") from None
        flat, secrets = flatten(value)
        targets[name] = TargetSnapshot(name, v.version, value, freeze(value), flat, secrets, raw)
    return BundleSnapshot(v, targets, origin, v.manifest)
