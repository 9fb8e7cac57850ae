"""Scalars by the YAML 1.2 core schema, bounded to what JSON consumers read.

``yes``/``no``/``off`` stay strings, ``0o17`` is octal, ``0x1F`` hexadecimal;
integers must fit 64 bits and floats must be finite (:mod:`cfgc.base.limits`).
Errors carry no location: the builder (:mod:`cfgc.base.yaml_build`) adds it.
"""

from __future__ import annotations

import math
import re
from typing import Any

from cfgc.base.limits import INT_MAX, INT_MIN  # numbers JSON consumers read: 64-bit integers

_INT10 = re.compile(r"[-+]?[0-9]+\Z")
_INT8 = re.compile(r"0o[0-7]+\Z")
_INT16 = re.compile(r"0x[0-9a-fA-F]+\Z")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_INF = re.compile(r"[-+]?\.(inf|Inf|INF)\Z")
_NAN = re.compile(r"\.(nan|NaN|NAN)\Z")
NULLS = frozenset(["", "~", "null", "Null", "NULL"])
_TRUE = frozenset(["true", "True", "TRUE"])
_FALSE = frozenset(["false", "False", "FALSE"])
# What each explicit scalar tag (!!int...) accepts once the text is resolved.
_EXPLICIT: dict[str, Any] = {"int": int, "float": (int, float), "bool": bool, "null": type(None)}


class ScalarError(ValueError):
    """A scalar the core schema refuses (the loader adds the location)."""


class NumberError(ScalarError):
    """A number JSON cannot carry (the loader adds the location)."""


def _int(text: str, digits: str, base: int, most: int) -> int:
    # Checking the digit count first keeps int() away from 100,000-digit
    # strings (Python refuses more than 4300 digits with a ValueError).
    if len(digits.lstrip("0")) <= most:
        n = int(text) if base == 10 else int(digits, base)
        if INT_MIN <= n <= INT_MAX:
            return n
    shown = text if len(text) <= 24 else text[:20] + "..."
    raise NumberError(f"integer {shown} is outside the 64-bit range (-2**63 to 2**63-1) that JSON consumers read")


def resolve_plain(text: str) -> Any:
    """Resolve a plain scalar by the YAML 1.2 core schema.

    Numbers JSON cannot carry (integers outside 64 bits, floats that overflow,
    ``.inf``, ``.nan``) raise :class:`NumberError`.
    """
    if text in NULLS:
        return None
    c = text[0]
    if c in "tTfF":
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        return text
    if c in "0123456789-+.":
        if _INT10.match(text):
            return _int(text, text.lstrip("+-"), 10, 19)
        if _INT8.match(text):
            return _int(text, text[2:], 8, 21)
        if _INT16.match(text):
            return _int(text, text[2:], 16, 16)
        if _FLOAT.match(text):
            f = float(text)
            if math.isinf(f):
                raise NumberError(f"{text[:24]!r} overflows a 64-bit float")
            return f
        if _INF.match(text) or _NAN.match(text):
            raise NumberError(f"{text} (infinity or NaN) cannot be carried by JSON")
    return text


def explicit(kind: str, text: str) -> Any:
    """The value of ``text`` under the explicit tag ``!!kind`` (int, float, bool or null).

    An empty scalar is null, so it fits ``!!null`` only.  A value of another
    type raises :class:`ScalarError`; ``!!float 1`` is the float 1.0.
    """
    v = resolve_plain(text)
    if isinstance(v, bool) and kind in ("int", "float") or not isinstance(v, _EXPLICIT[kind]):
        raise ScalarError(f"{text!r} is not a valid !!{kind}")
    return float(v) if kind == "float" else v
