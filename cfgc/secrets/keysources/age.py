"""age X25519 master keys, via pyrage.

Identities come from, in order: an explicit key file, ``SOPS_AGE_KEY`` (keys
inline), ``SOPS_AGE_KEY_FILE``, and sops' default
``$XDG_CONFIG_HOME/sops/age/keys.txt`` (``~/.config/...``).  Encrypting needs
only recipients (``age1...``), never an identity.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyrage

from cfgc.errors import InputError
from cfgc.secrets.keysources import KeyUnavailable
from cfgc.secrets.metadata import AgeKey, MasterKey

_SECRET_PREFIX = "AGE-SECRET-KEY-1"


def parse_identities(text: str, origin: str) -> list[Any]:
    """age X25519 identities from key-file text (comments and blanks ignored)."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith(_SECRET_PREFIX):
            try:
                out.append(pyrage.x25519.Identity.from_str(line))
            except Exception:  # noqa: BLE001 - never echo the key
                raise InputError(f"{origin}: line {n} is not a valid age identity") from None
    return out


def default_key_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "sops" / "age" / "keys.txt"


def load_identities(key_file: str | None = None) -> tuple[list[Any], list[str]]:
    """All identities this process can use, and where they were looked for."""
    ids: list[Any] = []
    looked: list[str] = []
    if key_file:
        looked.append(key_file)
        ids += parse_identities(_read(Path(key_file)), key_file)
    inline = os.environ.get("SOPS_AGE_KEY")
    looked.append("SOPS_AGE_KEY")
    if inline:
        ids += parse_identities(inline, "SOPS_AGE_KEY")
    env_file = os.environ.get("SOPS_AGE_KEY_FILE")
    looked.append("SOPS_AGE_KEY_FILE")
    if env_file:
        ids += parse_identities(_read(Path(env_file)), env_file)
    default = default_key_file()
    looked.append(str(default))
    if default.is_file():
        ids += parse_identities(_read(default), str(default))
    return ids, looked


def _read(p: Path) -> str:
    try:
        return p.read_text(encoding="utf-8")
    except OSError as e:
        raise InputError(f"cannot read age key file {p}: {e.strerror}") from None


def parse_recipient(recipient: str) -> Any:
    try:
        return pyrage.x25519.Recipient.from_str(recipient.strip())
    except Exception:  # noqa: BLE001
        raise InputError(f"not a valid age X25519 recipient: {recipient!r}") from None


class AgeSource:
    """Wraps data keys to age recipients; unwraps with the identities held."""

    kind = "age"

    def __init__(self, key_file: str | None = None, identities: list[Any] | None = None) -> None:
        self._key_file = key_file
        self._ids = identities
        self._looked: list[str] = []
        self._by_recipient: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"AgeSource(key_file={self._key_file!r})"

    def _identities(self) -> list[Any]:
        if self._ids is None:
            self._ids, self._looked = load_identities(self._key_file)
        if not self._by_recipient:
            self._by_recipient = {str(i.to_public()): i for i in self._ids}
        return self._ids

    def encrypt(self, key: MasterKey, data_key: bytes) -> MasterKey:
        assert isinstance(key, AgeKey)
        recipient = parse_recipient(key.recipient)
        armored = pyrage.encrypt(data_key, [recipient], armored=True)
        return replace(key, enc=armored.decode("ascii"))

    def decrypt(self, key: MasterKey) -> bytes:
        assert isinstance(key, AgeKey)
        ids = self._identities()
        if not ids:
            raise KeyUnavailable(f"no age identity found (looked in {', '.join(self._looked)})")
        match = self._by_recipient.get(key.recipient.strip())
        if match is None:
            raise KeyUnavailable("no age identity for this recipient")
        try:
            return bytes(pyrage.decrypt(key.enc.encode("ascii"), [match]))
        except Exception:  # noqa: BLE001 - pyrage raises its own types
            raise KeyUnavailable("age decryption of the data key failed") from None
