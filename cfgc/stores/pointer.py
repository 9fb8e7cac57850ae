"""Channel pointers: signed documents naming the version a channel is at.

A pointer is a DSSE envelope (payload type ``application/vnd.cfgc.channel+json``)
over the canonical JSON of ``{channel, repository, version, manifest_digest,
serial, previous, issued, expires}``.

* ``serial`` only grows: every move, rollbacks and refreshes included, takes
  the current serial plus one, so a reader can refuse a pointer older than one
  it has seen (a replayed or rolled-back store).
* ``repository`` names the repository of channels the pointer belongs to, so a
  pointer copied from another store signed by the same key is refused.  It is
  chosen at publish time, never derived from the store URL, so a store copied
  to a mirror still verifies.
* ``issued``/``expires`` (UTC, ``YYYY-MM-DDTHH:MM:SSZ``) bound how long a
  pointer is believed: a store frozen on an old pointer is noticed when it
  expires (re-sign it on a schedule with ``cfgc channel refresh``).

Pointers written before these three fields existed are *legacy*: publishers
read them (to take the serial), runtimes refuse them (they never expire).
"""

from __future__ import annotations

import calendar
import json
import re
import time
from dataclasses import asdict, dataclass

from cfgc.base.canonical import canonical_json
from cfgc.base.errors import IntegrityError, UsageError
from cfgc.bundle.signing import Signer, Verifier, decode_payload, sign_envelope, verify_envelope
from cfgc.stores.layout import CHANNEL_TYPE

_REPOSITORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


@dataclass(frozen=True)
class Pointer:
    """Where a channel points, for how long, in which repository."""

    channel: str
    version: str
    manifest_digest: str
    serial: int
    previous: str | None = None
    repository: str | None = None
    issued: str | None = None
    expires: str | None = None

    @property
    def legacy(self) -> bool:
        """Written before pointers named their repository and expiry."""
        return self.repository is None or self.issued is None or self.expires is None

    def expires_at(self) -> float | None:
        """``expires`` as a Unix time (None for a legacy pointer)."""
        return parse_time(self.expires) if self.expires is not None else None

    def expired(self, now: float | None = None) -> bool:
        """True when the pointer's ``expires`` is past (a legacy pointer never expires)."""
        at = self.expires_at()
        return at is not None and (time.time() if now is None else now) >= at


def check_repository(name: str) -> str:
    """``name`` if it is a valid repository identity (letters, digits, ``._/-``, at most 128)."""
    if not _REPOSITORY.match(name):
        raise UsageError(f"bad repository name {name!r}: letters, digits, '.', '_', '/' and '-', "
                         "at most 128, starting with a letter or digit")
    return name


def format_time(t: float) -> str:
    """A Unix time as ``YYYY-MM-DDTHH:MM:SSZ`` (whole seconds, UTC)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(t)))


def parse_time(s: str) -> float:
    """``YYYY-MM-DDTHH:MM:SSZ`` as a Unix time; IntegrityError if malformed."""
    if not _TIME.match(s):
        raise IntegrityError(f"pointer time {s!r} is not YYYY-MM-DDTHH:MM:SSZ")
    try:
        return float(calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ")))
    except ValueError:
        raise IntegrityError(f"pointer time {s!r} is not a valid date") from None


def encode_pointer(pointer: Pointer, signers: list[Signer]) -> bytes:
    """The signed pointer document (a legacy pointer keeps only its legacy fields)."""
    fields = {k: v for k, v in asdict(pointer).items()
              if v is not None or k not in ("repository", "issued", "expires")}
    return canonical_json(sign_envelope(canonical_json(fields), CHANNEL_TYPE, signers))


def decode_pointer(name: str, data: bytes, verifiers: list[Verifier] | None = None) -> Pointer:
    """Parse a pointer document; with ``verifiers``, its signature must verify.

    Without verifiers the signature is not checked (publishers read the
    current pointer only to take its serial); readers always pass verifiers.
    """
    what = f"channel {name}"
    try:
        env = json.loads(data)
    except ValueError:
        raise IntegrityError(f"{what}: pointer is not JSON") from None
    if verifiers is not None:
        payload, _ = verify_envelope(env, CHANNEL_TYPE, verifiers, what)
    elif isinstance(env, dict) and env.get("payloadType") == CHANNEL_TYPE:
        payload = decode_payload(env, what)
    else:
        raise IntegrityError(f"{what}: pointer is not a cfgc channel envelope")
    try:
        value = json.loads(payload)
        opt = {k: _opt_str(value.get(k)) for k in ("previous", "repository", "issued", "expires")}
        p = Pointer(str(value["channel"]), str(value["version"]), str(value["manifest_digest"]),
                    _serial(value["serial"]), **opt)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise IntegrityError(f"{what}: malformed pointer payload") from None
    if p.channel != name:
        raise IntegrityError(f"{what}: the stored pointer is for channel {p.channel!r}")
    for t in (p.issued, p.expires):
        if t is not None:
            parse_time(t)
    return p


def _serial(v: object) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise ValueError("serial")
    return v


def _opt_str(v: object) -> str | None:
    if v is None or isinstance(v, str):
        return v
    raise TypeError("not a string")


_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_EXPIRES = 366 * 86400  # a pointer believed for more than a year defeats the point of expiry


def parse_duration(text: str) -> int:
    """``90s``, ``30m``, ``12h``, ``7d`` as seconds (at least 60 s, at most 366 days); UsageError otherwise."""
    m = _DURATION.match(text.strip())
    if not m:
        raise UsageError(f"bad duration {text!r}: a number and a unit s, m, h or d (e.g. 7d, 12h)")
    seconds = int(m.group(1)) * _UNIT[m.group(2)]
    if not 60 <= seconds <= MAX_EXPIRES:
        raise UsageError(f"duration {text!r} is out of range: between 60s and {MAX_EXPIRES // 86400}d")
    return seconds
