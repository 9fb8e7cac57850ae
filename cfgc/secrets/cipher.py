"""SOPS value encryption: the ``ENC[AES256_GCM,...]`` format and value typing.

A SOPS leaf is encrypted with AES-256-GCM under the file's 32-byte data key, a
32-byte random nonce ("iv") and, as additional authenticated data, the path of
keys leading to it (``db:password:``).  The plaintext bytes depend on the type:
strings as UTF-8, ints in decimal, floats as Go's ``FormatFloat(f, 'f', -1)``,
bools as ``True``/``False``, times as RFC 3339.  The type is recorded in clear so
decryption can restore it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import math
import os
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cfgc.base.errors import IntegrityError

NONCE_SIZE = 32
TAG_SIZE = 16

# Go's regexp is unanchored at the end and greedy; mirror it.
_ENC_RE = re.compile(r"^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]")
_INT_RE = re.compile(r"^[+-]?[0-9]+$")
_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


@dataclass(frozen=True, eq=False)
class Comment:
    """A YAML comment line (its text after ``#``); encrypted but not MACed.

    Compared by identity: two equal comments can be keys of the same mapping.
    """

    value: str


@dataclass(frozen=True)
class EncryptedValue:
    """The parts of an ``ENC[AES256_GCM,data:...,iv:...,tag:...,type:...]`` string."""

    data: bytes
    iv: bytes
    tag: bytes
    type: str

    def format(self) -> str:
        b = base64.b64encode
        return (
            f"ENC[AES256_GCM,data:{b(self.data).decode()},iv:{b(self.iv).decode()},"
            f"tag:{b(self.tag).decode()},type:{self.type}]"
        )


def is_encrypted_value(value: object) -> bool:
    """Whether ``value`` is a string in the SOPS ciphertext format."""
    return isinstance(value, str) and _ENC_RE.match(value) is not None


def parse(value: str) -> EncryptedValue:
    """Parse an ENC[...] string; IntegrityError if it is not one (value not shown)."""
    m = _ENC_RE.match(value)
    if m is None:
        raise IntegrityError("value is not in the SOPS ENC[AES256_GCM,...] format")
    try:
        parts = [binascii.a2b_base64(m.group(i), strict_mode=True) for i in (1, 2, 3)]
    except (binascii.Error, ValueError):
        raise IntegrityError("encrypted value has invalid base64") from None
    return EncryptedValue(parts[0], parts[1], parts[2], m.group(4))


def format_go_float(f: float) -> str:
    """Go ``strconv.FormatFloat(f, 'f', -1, 64)``: shortest exact digits, no exponent."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    text = format(Decimal(repr(f)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


class NanoTime(dt.datetime):
    """A datetime that keeps nanoseconds (Go's time.Time precision, which sops keeps)."""

    nanosecond: int

    @classmethod
    def of(cls, t: dt.datetime, nanosecond: int) -> NanoTime:
        out = cls(t.year, t.month, t.day, t.hour, t.minute, t.second, nanosecond // 1000, t.tzinfo)
        out.nanosecond = nanosecond
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, dt.datetime):
            return NotImplemented
        return super().__eq__(other) and _nanos(self) == _nanos(other)

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    __hash__ = dt.datetime.__hash__

    def __reduce_ex__(self, protocol: object) -> Any:
        # datetime pickles (and deep-copies) without the extra attribute
        base = dt.datetime(*self.timetuple()[:6], self.microsecond, self.tzinfo)
        return (NanoTime.of, (base, self.nanosecond))


def _nanos(t: dt.datetime) -> int:
    return getattr(t, "nanosecond", t.microsecond * 1000)


_GO_TIME_RE = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$")


def parse_go_time(text: str) -> dt.datetime | None:
    """Parse Go's RFC 3339 (nanosecond) form; None when it is not one."""
    m = _GO_TIME_RE.match(text)
    if m is None:
        return None
    try:
        base = dt.datetime.fromisoformat(m[1] + ("+00:00" if m[3] == "Z" else m[3]))
    except ValueError:
        return None
    nanos = int((m[2] or "").ljust(9, "0"))
    return NanoTime.of(base, nanos) if nanos % 1000 else base.replace(microsecond=nanos // 1000)


def format_go_time(t: dt.datetime) -> str:
    """Go ``time.MarshalText`` (RFC 3339 with nanoseconds, trailing zeros trimmed)."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    out = t.strftime("%Y-%m-%dT%H:%M:%S")
    if _nanos(t):
        out += ("." + f"{_nanos(t):09d}").rstrip("0")
    off = t.utcoffset() or dt.timedelta(0)
    if not off:
        return out + "Z"
    sign = "-" if off < dt.timedelta(0) else "+"
    mins = abs(int(off.total_seconds())) // 60
    return f"{out}{sign}{mins // 60:02d}:{mins % 60:02d}"


def value_type(value: object) -> str:
    """The SOPS type name of a plaintext leaf."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, dt.datetime):
        return "time"
    if isinstance(value, Comment):
        return "comment"
    if isinstance(value, bytes):
        return "str"  # as sops: yaml.v3 decodes !!binary into a (non-UTF-8) string
    raise TypeError(f"cannot encrypt a value of type {type(value).__name__}")


def to_bytes(value: object) -> bytes:
    """Plaintext bytes of a leaf, as SOPS feeds them to AES and to the MAC."""
    if isinstance(value, bool):
        return b"True" if value else b"False"
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, float):
        return format_go_float(value).encode()
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, dt.datetime):
        return format_go_time(value).encode()
    if isinstance(value, Comment):
        return value.value.encode("utf-8")
    if isinstance(value, bytes):
        return value
    raise TypeError(f"cannot encode a value of type {type(value).__name__}")


def from_bytes(raw: bytes, type_: str) -> object:
    """Inverse of :func:`to_bytes` for a recorded type (errors never show the value)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        if type_ in ("str", "bytes"):
            return raw  # a !!binary value; kept as bytes, written back as !!binary
        raise IntegrityError(f"decrypted {type_} value is not UTF-8") from None
    if type_ == "str":
        return text
    if type_ == "bytes":
        return text
    if type_ == "comment":
        return Comment(text)
    if type_ == "int":
        if _INT_RE.match(text):
            return int(text)
    elif type_ == "float":
        try:
            return float(text)
        except ValueError:
            pass
    elif type_ == "bool":
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    elif type_ == "time":
        t = parse_go_time(text)
        if t is not None:
            return t
    else:
        raise IntegrityError(f"unknown SOPS value type {type_!r}")
    raise IntegrityError(f"decrypted value does not parse as {type_}")


def aad_for(path: tuple[str, ...] | list[str]) -> str:
    """Additional authenticated data for a leaf: keys joined with ``:`` plus ``:``."""
    return ":".join(path) + ":"


def encrypt(value: object, key: bytes, aad: str, iv: bytes | None = None) -> str:
    """Encrypt a leaf; empty strings stay empty as in SOPS.  ``iv`` reuses a nonce."""
    if value == "" and isinstance(value, str):
        return ""
    if isinstance(value, Comment) and value.value == "":
        return ""
    type_ = value_type(value)
    nonce = iv if iv is not None else os.urandom(NONCE_SIZE)
    out = _aead(key).encrypt(nonce, to_bytes(value), aad.encode())
    return EncryptedValue(out[:-TAG_SIZE], nonce, out[-TAG_SIZE:], type_).format()


@functools.lru_cache(maxsize=16)
def _aead(key: bytes) -> AESGCM:
    # One cipher object per data key: a file's values all share it.
    return AESGCM(key)


def decrypt(ciphertext: str, key: bytes, aad: str) -> tuple[object, bytes]:
    """Decrypt an ENC[...] string; returns (value, iv).  Tampering → IntegrityError."""
    if ciphertext == "":
        return "", b""
    ev = parse(ciphertext)
    if len(ev.iv) == 0:
        raise IntegrityError("encrypted value has an empty iv")
    try:
        raw = _aead(key).decrypt(ev.iv, ev.data + ev.tag, aad.encode())
    except InvalidTag:
        raise IntegrityError("authentication failed (value or key path altered)") from None
    return from_bytes(raw, ev.type), ev.iv
