"""age master keys (X25519 and SSH), via pyrage.

Identities are looked for where sops looks (all of them are used):
an explicit key file, ``SOPS_AGE_KEY`` (keys inline), ``SOPS_AGE_KEY_FILE``,
the output of ``SOPS_AGE_KEY_CMD``, sops' default
``$XDG_CONFIG_HOME/sops/age/keys.txt`` (``~/.config/...``), and SSH private
keys: ``SOPS_AGE_SSH_PRIVATE_KEY_FILE``, ``~/.ssh/id_ed25519``, ``~/.ssh/id_rsa``.
Encrypting needs only recipients (``age1...``, ``ssh-ed25519 ...``,
``ssh-rsa ...``), never an identity.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cfgc.base.bounded_read import read_file
from cfgc.base.errors import ExternalError, InputError
from cfgc.secrets.keysources import KeyUnavailable
from cfgc.secrets.metadata import AgeKey, MasterKey, recipient_spelling

_SECRET_PREFIX = "AGE-SECRET-KEY-1"
_SSH_TYPES = ("ssh-ed25519", "ssh-rsa")
RECIPIENTS_ENV = "SOPS_AGE_RECIPIENTS"
KEY_CMD_ENV = "SOPS_AGE_KEY_CMD"
SSH_KEY_ENV = "SOPS_AGE_SSH_PRIVATE_KEY_FILE"
KEY_CMD_TIMEOUT = 60.0  # seconds; the command may ask a password manager or an agent
MAX_KEY_CMD_OUTPUT = 1 << 20  # bytes; a key list is a few hundred bytes


def _pyrage() -> Any:
    """pyrage, imported on first use: checking a recipient's spelling (every build
    that reads a .sops.yaml naming age keys) needs no cryptography."""
    import pyrage

    return pyrage


@dataclass(frozen=True)
class HeldIdentity:
    """An identity and the recipient it decrypts for (canonical form)."""

    recipient: str
    identity: Any


def canonical_recipient(recipient: str) -> str:
    """The form recipients are compared in: ``age1`` lower case, SSH ``type base64``."""
    r = recipient.strip()
    if r.startswith("ssh-"):
        return " ".join(r.split()[:2])
    return r.lower() if r.lower().startswith("age1") else r


def check_recipient(recipient: str, where: str = "", parse: bool = False) -> str:
    """``recipient`` stripped; an ``age1`` recipient not in lower case is refused (exit 1).

    See :func:`cfgc.secrets.metadata.recipient_spelling`.  With ``parse``, the
    recipient must also be a valid age / SSH recipient.
    """
    r = recipient_spelling(recipient, where)
    if parse:
        parse_recipient(r, where)
    return r


def parse_recipient(recipient: str, where: str = "") -> Any:
    """A pyrage recipient for ``age1...`` or an SSH public key line."""
    r = recipient.strip()
    at = f"{where}: " if where else ""
    try:
        if r.split(" ", 1)[0] in _SSH_TYPES:
            return _pyrage().ssh.Recipient.from_str(" ".join(r.split()[:2]))
        return _pyrage().x25519.Recipient.from_str(r.lower() if r.lower().startswith("age1") else r)
    except Exception:  # noqa: BLE001
        raise InputError(
            f"{at}not a valid age recipient (age1..., ssh-ed25519 or ssh-rsa): {r!r}"
        ) from None


def parse_identities(text: str, origin: str) -> list[HeldIdentity]:
    """age X25519 identities from key-file text (comments and blanks ignored)."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith(_SECRET_PREFIX):
            try:
                ident = _pyrage().x25519.Identity.from_str(line)
            except Exception:  # noqa: BLE001 - never echo the key
                raise InputError(f"{origin}: line {n} is not a valid age identity") from None
            out.append(HeldIdentity(str(ident.to_public()), ident))
    return out


def ssh_identity(data: bytes, origin: str) -> HeldIdentity:
    """An age identity from an unencrypted OpenSSH ed25519 / RSA private key."""
    # Imported here: cryptography costs every command that loads the secrets
    # rules (every build) a noticeable part of its start-up; few read SSH keys.
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_ssh_private_key(data, password=None)
        pub = key.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
        ident = _pyrage().ssh.Identity.from_buffer(data)
    except Exception as e:  # noqa: BLE001 - never echo the key
        why = "it is passphrase-protected" if "password" in str(e).lower() else "unsupported"
        raise InputError(
            f"{origin}: cannot use this SSH private key as an age identity ({why})"
        ) from None
    return HeldIdentity(canonical_recipient(pub.decode("ascii")), ident)


def default_key_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "sops" / "age" / "keys.txt"


def _key_cmd(cmd: str) -> str:
    """The output of ``SOPS_AGE_KEY_CMD`` (split like a shell, run without one, as sops)."""
    try:
        args = shlex.split(cmd)
    except ValueError:
        raise InputError(f"{KEY_CMD_ENV}: cannot split the command line") from None
    if not args:
        raise InputError(f"{KEY_CMD_ENV} is empty")
    try:
        done = subprocess.run(
            args,
            capture_output=True,
            timeout=KEY_CMD_TIMEOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        why = "timed out" if isinstance(e, subprocess.TimeoutExpired) else e.strerror
        raise ExternalError(f"{KEY_CMD_ENV}: cannot run {args[0]!r}: {why}") from None
    if done.returncode != 0:
        # its stderr is not shown: a key command may print key material
        raise ExternalError(f"{KEY_CMD_ENV}: {args[0]!r} exited with status {done.returncode}")
    if len(done.stdout) > MAX_KEY_CMD_OUTPUT:
        raise InputError(f"{KEY_CMD_ENV}: output larger than {MAX_KEY_CMD_OUTPUT} bytes")
    return done.stdout.decode("utf-8", "replace")


def load_identities(key_file: str | None = None) -> tuple[list[HeldIdentity], list[str]]:
    """All identities this process can use, and where they were looked for."""
    ids: list[HeldIdentity] = []
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
    cmd = os.environ.get(KEY_CMD_ENV)
    looked.append(KEY_CMD_ENV)
    if cmd:
        ids += parse_identities(_key_cmd(cmd), KEY_CMD_ENV)
    default = default_key_file()
    looked.append(str(default))
    if default.is_file():
        ids += parse_identities(_read(default), str(default))
    ids += _ssh_identities(looked)
    return ids, looked


def _ssh_identities(looked: list[str]) -> list[HeldIdentity]:
    out = []
    explicit = os.environ.get(SSH_KEY_ENV)
    looked.append(SSH_KEY_ENV)
    if explicit:
        out.append(ssh_identity(_read_bytes(Path(explicit)), SSH_KEY_ENV))
    home = os.environ.get("HOME")
    for name in ("id_ed25519", "id_rsa"):
        p = Path(home or Path.home()) / ".ssh" / name
        looked.append(str(p))
        if p.is_file():
            try:
                out.append(ssh_identity(_read_bytes(p), str(p)))
            except InputError:
                continue  # as sops: a default key it cannot use is passed over
    return out


def _read(p: Path) -> str:
    return _read_bytes(p).decode("utf-8", "replace")


def _read_bytes(p: Path) -> bytes:
    try:
        return read_file(p)
    except OSError as e:
        raise InputError(f"cannot read age key file {p}: {e.strerror}") from None


class AgeSource:
    """Wraps data keys to age recipients; unwraps with the identities held."""

    kind = "age"

    def __init__(self, key_file: str | None = None, identities: list[Any] | None = None) -> None:
        self._key_file = key_file
        self._ids: list[HeldIdentity] | None = None
        if identities is not None:
            self._ids = [i if isinstance(i, HeldIdentity) else _held(i) for i in identities]
        self._looked: list[str] = []

    def __repr__(self) -> str:
        return f"AgeSource(key_file={self._key_file!r})"

    def preload(self) -> None:
        """Load the identities now (once), e.g. before forking workers: a key
        command then runs once, not once per worker."""
        self._identities()

    def _identities(self) -> list[HeldIdentity]:
        if self._ids is None:
            self._ids, self._looked = load_identities(self._key_file)
        return self._ids

    def encrypt(self, key: MasterKey, data_key: bytes) -> MasterKey:
        assert isinstance(key, AgeKey)
        recipient = parse_recipient(key.recipient)
        armored = _pyrage().encrypt(data_key, [recipient], armored=True)
        return replace(key, enc=armored.decode("ascii"))

    def decrypt(self, key: MasterKey) -> bytes:
        assert isinstance(key, AgeKey)
        ids = self._identities()
        if not ids:
            raise KeyUnavailable(f"no age identity found (looked in {', '.join(self._looked)})")
        want = canonical_recipient(key.recipient)
        match = [h.identity for h in ids if h.recipient == want]
        if not match:
            raise KeyUnavailable("no age identity for this recipient")
        try:
            return bytes(_pyrage().decrypt(key.enc.encode("ascii"), match))
        except Exception:  # noqa: BLE001 - pyrage raises its own types
            raise KeyUnavailable("age decryption of the data key failed") from None


def _held(identity: Any) -> HeldIdentity:
    if isinstance(identity, _pyrage().x25519.Identity):
        return HeldIdentity(str(identity.to_public()), identity)
    raise TypeError("pass SSH identities as HeldIdentity (their recipient is not derivable)")
