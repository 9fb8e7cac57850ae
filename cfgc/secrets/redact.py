"""The one redaction rule for values that become text.

A leaf is **sensitive** when

* it is a SOPS value: a :class:`~cfgc.base.secretrefs.SecretRef`, the comparison
  token :mod:`cfgc.review.diff` makes of one, or a string holding ``ENC[...]``;
* the hygiene detector (:func:`cfgc.secrets.scan.classify`) flags it: a known
  credential format anywhere, a password in a URL, a random-looking value
  under a credential-named key;
* it is a non-empty string under a credential-named key
  (:func:`cfgc.secrets.scan.secret_key_name`) that is not a placeholder or a
  reference (``${VAR}``, an environment variable name, a URL without
  credentials, a file path): ``password: hunter2hunter2`` does not look
  random, it is still a password.

A sensitive leaf is shown as ``<redacted hmac:1a2b3c4d>``: the first
:data:`DIGEST_HEX` hex characters of HMAC-SHA256 under a key drawn at random
when the process starts.  Within one run the same value gives the same marker
(base and head of a diff, the two commits of a history entry), so reviewers
see *that* a credential changed.  Across runs the markers differ, and without
the key a marker cannot be checked against guesses: a short or low-entropy
secret printed in a CI log cannot be brute-forced from its marker, which an
unkeyed or per-repo salted hash would allow.  Forked workers inherit the key.

Free text that may quote values (schema and template errors, Rego messages)
goes through :func:`mask`: every sensitive string of the value the message is
about is replaced by its marker, and known credential formats and ``ENC[...]``
anywhere in the text are replaced too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from collections.abc import Iterable
from typing import Any

from cfgc.base.secretrefs import SecretRef
from cfgc.secrets.scan import (
    ANY_PATTERN,
    URL_PASSWORD,
    classify,
    is_placeholder,
    is_reference,
    secret_key_name,
)

DIGEST_HEX = 8
# Values shorter than this under a credential-named key are still redacted as
# leaves, but not searched for in free text: masking "no" in every message
# would garble it and a 3-character secret is not one.
MIN_MASK_LENGTH = 4
SECRET_TOKEN = "\x00cfgc-secret:"  # cfgc.review.diff's comparison token of a SOPS value
MARKER = re.compile(rf"<redacted hmac:[0-9a-f]{{{DIGEST_HEX}}}>")
_ENC_TEXT = re.compile(r"ENC\[[^\]]*\]?")

_key = os.urandom(32)  # as secrets.token_bytes, without importing random


def set_key(key: bytes) -> bytes:
    """Use a fixed key (tests that compare output with golden files); returns the previous one."""
    global _key
    old, _key = _key, key
    return old


def marker(value: object) -> str:
    """``<redacted hmac:XXXXXXXX>`` for a value; equal values give equal markers in one process."""
    if type(value) is SecretRef:
        data = repr(("secretref", value.file, value.path, value.type))
    else:
        data = json.dumps(value, sort_keys=True, ensure_ascii=False, default=repr)
    digest = hmac.new(_key, data.encode(), hashlib.sha256).hexdigest()
    return f"<redacted hmac:{digest[:DIGEST_HEX]}>"


def _key_of(path: tuple[Any, ...]) -> str | None:
    return next((p for p in reversed(path) if isinstance(p, str)), None)


def is_sensitive(path: tuple[Any, ...], value: Any) -> bool:
    """Whether the leaf ``value`` at ``path`` must not be shown (see the module docstring)."""
    t = type(value)
    if t is SecretRef:
        return True
    if t is not str or not value.strip():
        return False
    if value.startswith(SECRET_TOKEN) or "ENC[" in value:
        return True
    key = _key_of(path)
    if classify(key, value) is not None:
        return True
    return secret_key_name(key) and not is_placeholder(value) and not is_reference(value)


def sensitive_strings(value: Any, path: tuple[Any, ...] = ()) -> set[str]:
    """The sensitive string leaves of ``value``, for :func:`mask` and :func:`redact`."""
    out: set[str] = set()
    _collect(value, path, out)
    return out


def _collect(value: Any, path: tuple[Any, ...], out: set[str]) -> None:
    t = type(value)
    if t is dict:
        for k, v in value.items():
            _collect(v, (*path, k), out)
    elif t is list:
        for i, v in enumerate(value):
            _collect(v, (*path, i), out)
    elif t is str and is_sensitive(path, value):
        out.add(value)


def redact(value: Any, path: tuple[Any, ...] = (), also: Iterable[str] = ()) -> Any:
    """``value`` with every sensitive leaf (and every string containing one of
    ``also``, the sensitive strings of the surrounding target) as its marker."""
    known = [s for s in also if len(s) >= MIN_MASK_LENGTH]
    return _redact(value, path, known)


def _redact(value: Any, path: tuple[Any, ...], known: list[str]) -> Any:
    t = type(value)
    if t is dict:
        return {k: _redact(v, (*path, k), known) for k, v in value.items()}
    if t is list:
        return [_redact(v, (*path, i), known) for i, v in enumerate(value)]
    if is_sensitive(path, value) or (t is str and any(s in value for s in known)):
        return marker(value)
    return value


def _forms(s: str) -> list[str]:
    """How a string can appear inside a message: raw, Python repr, JSON."""
    return list(dict.fromkeys([s, repr(s)[1:-1], json.dumps(s, ensure_ascii=False)[1:-1],
                               json.dumps(s)[1:-1]]))


def mask(text: str, values: Iterable[str] = ()) -> str:
    """``text`` with each of ``values`` (sensitive strings), every known
    credential format, URL password and ``ENC[...]`` replaced by a marker."""
    for s in sorted(values, key=len, reverse=True):
        if len(s) >= MIN_MASK_LENGTH:
            for form in _forms(s):
                text = text.replace(form, marker(s))
    text = ANY_PATTERN.sub(lambda m: marker(m.group(0)), text)
    text = _ENC_TEXT.sub(lambda m: marker(m.group(0)), text)

    def url(m: re.Match[str]) -> str:
        return m.group(0) if MARKER.fullmatch(m.group(1)) else m.group(0).replace(m.group(1), marker(m.group(1)))

    return URL_PASSWORD.sub(url, text)
