"""Canonical JSON: the byte form that digests and signatures are computed over.

Keys sorted, no insignificant whitespace, UTF-8 without escaping, no NaN or
infinities.  The same value always gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from cfgc.secretrefs import jsonable


def canonical_json(value: Any) -> bytes:
    """The canonical bytes of ``value``; raises ValueError for NaN/inf.

    Secret references (:class:`cfgc.secretrefs.SecretRef`) serialise as their
    ``{"$secret": ...}`` form.
    """
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=jsonable
    ).encode("utf-8")


def sha256_digest(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def pretty_json(value: Any) -> str:
    """Indented JSON for people (stable key order)."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=jsonable)
