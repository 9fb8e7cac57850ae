"""Master-key sources: wrap the data key for recipients, unwrap it with held keys.

Each source handles one kind of master key (``age``, ``kms``).  The
:class:`Keyring` applies them to SOPS key groups, splitting the data key with
Shamir's scheme when a file has several groups.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from cfgc.base.errors import CfgcError, ExternalError, InputError
from cfgc.secrets import shamir
from cfgc.secrets.metadata import KeyGroup, MasterKey, SopsMetadata

DATA_KEY_SIZE = 32


class KeyUnavailable(Exception):
    """A master key could not be used; the message never contains secrets."""

    def __init__(self, message: str, external: bool = False) -> None:
        super().__init__(message)
        self.external = external


@runtime_checkable
class KeySource(Protocol):
    """Wraps and unwraps data keys for one kind of master key."""

    kind: str

    def encrypt(self, key: MasterKey, data_key: bytes) -> MasterKey:
        """Return ``key`` with ``enc`` holding ``data_key`` encrypted to it."""
        ...

    def decrypt(self, key: MasterKey) -> bytes:
        """Return the data key (part) held in ``key.enc``; KeyUnavailable if not possible."""
        ...


@dataclass(frozen=True)
class Keyring:
    """The key sources available to this process, by key kind."""

    sources: Mapping[str, KeySource]

    def unwrap(self, meta: SopsMetadata) -> bytes:
        """Recover the file's data key, trying the keys of each group in turn."""
        parts: list[bytes] = []
        problems: list[str] = []
        external = False
        for group in meta.key_groups:
            try:
                parts.append(self._unwrap_group(group))
            except KeyUnavailable as e:
                problems.append(str(e))
                external = external or e.external
        if len(meta.key_groups) == 1:
            if parts:
                return parts[0]
        else:
            need = meta.shamir_threshold or len(meta.key_groups)
            if len(parts) >= need:
                return shamir.combine(parts)
            problems.insert(
                0, f"need {need} of {len(meta.key_groups)} key groups, decrypted {len(parts)}"
            )
        detail = "; ".join(problems) or "the file lists no master keys"
        cls: type[CfgcError] = ExternalError if external else InputError
        raise cls(f"cannot decrypt the data key: {detail}")

    def _unwrap_group(self, group: KeyGroup) -> bytes:
        errors: list[str] = []
        external = False
        ordered = sorted(group, key=lambda k: (k.kind != "age", k.kind != "kms"))
        for key in ordered:
            source = self.sources.get(key.kind)
            if source is None:
                errors.append(f"{key.kind} keys are not supported by cfgc (use the sops binary)")
                continue
            try:
                return source.decrypt(key)
            except KeyUnavailable as e:
                errors.append(f"{key.ident}: {e}")
                external = external or e.external
        raise KeyUnavailable(", ".join(errors) or "empty key group", external)

    def wrap(
        self,
        groups: tuple[KeyGroup, ...],
        data_key: bytes,
        threshold: int = 0,
        previous: SopsMetadata | None = None,
    ) -> tuple[KeyGroup, ...]:
        """Encrypt ``data_key`` for every key of ``groups``.

        With one group every key holds the whole key; with several, group *i*
        holds Shamir part *i*.  Keys already present in ``previous`` (a single
        group, same data key) keep their ``enc`` unchanged.
        """
        if not groups or not any(groups):
            raise InputError("no master keys to encrypt the data key for")
        if len(groups) == 1:
            parts = [data_key]
        else:
            parts = shamir.split(data_key, len(groups), threshold or len(groups))
        reuse: dict[tuple[str, str], MasterKey] = {}
        if previous is not None and len(previous.key_groups) == 1 and len(groups) == 1:
            reuse = {(k.kind, k.ident): k for k in previous.key_groups[0] if k.enc}
        out: list[KeyGroup] = []
        for group, part in zip(groups, parts, strict=True):
            wrapped: list[MasterKey] = []
            for key in group:
                old = reuse.get((key.kind, key.ident))
                if old is not None:
                    wrapped.append(old)
                    continue
                source = self.sources.get(key.kind)
                if source is None:
                    raise InputError(
                        f"cannot encrypt for {key.ident}: {key.kind} keys are not supported by cfgc"
                    )
                try:
                    wrapped.append(source.encrypt(key, part))
                except KeyUnavailable as e:
                    cls: type[CfgcError] = ExternalError if e.external else InputError
                    raise cls(f"cannot encrypt the data key for {key.ident}: {e}") from None
            out.append(tuple(wrapped))
        return tuple(out)


def default_keyring(age_key_file: str | None = None) -> Keyring:
    """age (identities from the sops variables or ``age_key_file``) and AWS KMS."""
    from cfgc.secrets.keysources.age import AgeSource
    from cfgc.secrets.keysources.kms import KmsSource

    return Keyring({"age": AgeSource(key_file=age_key_file), "kms": KmsSource()})
