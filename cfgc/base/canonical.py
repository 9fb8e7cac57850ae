"""Canonical JSON: the byte form that digests and signatures are computed over.

Keys sorted, no insignificant whitespace, UTF-8 without escaping, no NaN or
infinities.  The same value always gives the same bytes.

The bytes are defined as those of :func:`reference_json` (Python's ``json``
module, see docs/bundle-format.md).  :func:`canonical_json` gets them from
orjson when it can, because encoding was a tenth of a cold build (about
85 µs a target with ``json``, 20 µs with orjson, on the benchmark corpus).
orjson writes the same bytes for every value cfgc produces except in three
cases, and each leaves a mark in its output that sends the value to
``json`` instead (:data:`_EXPONENT`, a superset: a string that happens
to contain one of the marks only costs the slower encoder):

- floats below 1e-4 or from 1e16 up (orjson writes ``1e-7``/``0.00001``/
  ``1e16``, Python ``1e-07``/``1e-05``/``1e+16``);
- NaN and infinities, which orjson writes as ``null`` where ``json`` raises
  (an output holding ``null`` is only used once the value is walked and
  holds no non-finite float);
- anything orjson refuses (integers beyond 64 bits, lone surrogates,
  non-string keys, nesting deeper than 255, other types), so errors stay
  exactly what they were.

Types orjson would encode natively where ``json`` calls ``default``
(dataclasses, dates and times) are passed through to the same ``default``.
At import the two encoders are compared on a set of hard values: an orjson
release that writes any of them differently is not used at all.
``tests/unit/base/test_canonical_orjson.py`` compares them on generated values.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

import orjson

from cfgc.base.secretrefs import SecretRef, jsonable

# orjson writes a float below 1e-4 or from 1e16 up as 1e-7, 1e16 (Python:
# 1e-07, 1e+16), except 1e-5 <= x < 1e-4, which it writes as 0.0000x (Python
# 1e-05).  Any "e" after a digit, in a number or in a string, sends the value to
# json: a regex that starts with a literal scans about as fast as orjson encodes.
_EXPONENT = re.compile(rb"e(?<=[0-9]e)")


def reference_json(value: object) -> bytes:
    """The canonical bytes as Python's ``json`` writes them (the definition)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=jsonable
    ).encode("utf-8")


def canonical_json(value: object, plain_floats: bool = False) -> bytes:
    """The canonical bytes of ``value``; raises ValueError for NaN/inf.

    Secret references (:class:`cfgc.base.secretrefs.SecretRef`) serialise as their
    ``{"$secret": ...}`` form.

    ``plain_floats`` is the caller's word that ``value`` holds only dicts,
    lists, strings, ints, bools, None, secret references and floats for which
    :func:`plain_float` holds (:func:`floats_plain`; the YAML loader knows it
    of a file's value, and a merge of such files places only their leaves):
    then orjson's bytes are json's whenever orjson accepts the value (a secret
    reference is written through ``default`` by both, as strings and a list of
    keys), and the search for the marks of floats written differently is
    skipped (it cost about what the encoding does).
    """
    if _FAST is None:
        return reference_json(value)
    if plain_floats:
        try:
            data: bytes = _FAST(value, default=jsonable, option=_OPTIONS)
        except Exception:  # noqa: BLE001 - json decides, and raises what it always raised
            return reference_json(value)
        return data
    fast = _fast(_FAST, value)
    return reference_json(value) if fast is None else fast


def plain_float(x: float) -> bool:
    """Whether orjson and json write the float ``x`` alike: 0 or 1e-4 <= |x| < 1e16
    (outside, orjson writes ``1e-7`` and ``1e16`` where json writes ``1e-07``
    and ``1e+16``; NaN and infinities fail)."""
    return 1e-4 <= x < 1e16 or -1e16 < x <= -1e-4 or x == 0.0


def floats_plain(value: object) -> bool:
    """Whether ``value`` may be encoded with ``plain_floats`` (see :func:`canonical_json`):
    it holds only dicts, lists, tuples, strings, ints, bools, None, secret
    references and floats for which :func:`plain_float` holds (exact types)."""
    stack: list[Any] = [value]  # Any: exact type() checks (subclasses must fail) do not narrow
    while stack:
        v = stack.pop()
        t = type(v)
        if t is dict:
            stack.extend(v.values())
        elif t is list or t is tuple:
            stack.extend(v)
        elif t is float:
            if not (1e-4 <= v < 1e16 or -1e16 < v <= -1e-4 or v == 0.0):  # plain_float, inlined
                return False
        elif not (v is None or t is str or t is int or t is bool or t is SecretRef):
            return False
    return True


def sha256_digest(data: bytes | memoryview) -> str:
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _fast(dumps: Callable[..., bytes], value: object) -> bytes | None:
    """orjson's bytes for ``value``, or None where they may differ from :func:`reference_json`."""
    try:
        data: bytes = dumps(value, default=jsonable, option=_OPTIONS)
    except Exception:  # noqa: BLE001 - json decides, and raises what it always raised
        return None
    marked = _EXPONENT.search(data) is not None or b"0.0000" in data
    nulls = b"null" in data
    if (marked or nulls) and _float_free(value):
        # The marks also match inside strings (every hex digest of a manifest):
        # without a float the two encoders agree, and every null is a real None.
        return data
    if marked:
        return None
    # orjson writes NaN and infinities as null: a null must be a real None.
    if nulls and not _all_finite(value):
        return None
    return data


def _float_free(value: object) -> bool:
    """``value`` holds only dicts, lists, strings, ints, bools and None (no float, nothing else)."""
    stack: list[Any] = [value]  # Any: exact type() checks (subclasses must fail) do not narrow
    while stack:
        v = stack.pop()
        t = type(v)
        if t is dict:
            stack.extend(v.values())
        elif t is list or t is tuple:
            stack.extend(v)
        elif not (v is None or t is str or t is int or t is bool):
            return False
    return True


def _all_finite(value: object) -> bool:
    """No float in ``value`` is NaN or infinite (False for types not walked here)."""
    stack: list[object] = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, float):
            if v - v != 0.0:  # NaN and +-inf give NaN
                return False
        elif isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, (list, tuple)):
            stack.extend(v)
        elif not (v is None or isinstance(v, (str, int))):
            return False  # a SecretRef or anything else: json decides
    return True


# Values where float formatting, escaping and key order are easiest to get
# wrong; orjson must write each of them (none is sent to json) as json does.
KNOWN_VALUES: list[Any] = [  # JSON values, and a secret reference
    [1.0, -0.0, 0.1, 0.30000000000000004, 1e-4, 0.00012345678901234567, 123456789012345.6,
     9999999999999998.0, 1e15, 2.5, -1.5e-3, 2**53 + 1, 2**63 - 1, -(2**63), 2**64 - 1],
    {"\uff61": 2, "\U0001f600": 1, "a": None, "": True, "\x7f": "\x00\x1f\"\\\n\r\t\b\f\u2028\ufeff\u00e9"},
    [[], {}, "", 0, -1, False, {"b": {"d": 1, "c": [2]}, "a": "x"}],
    # Written through ``default`` by both (canonical_json's plain_floats path takes it on this word).
    {"s": SecretRef("f\u00e9.yaml", ("b", 0, "a"), "str")},
]


def _fast_encoder() -> Callable[..., bytes] | None:
    if all(_fast(orjson.dumps, v) == reference_json(v) for v in KNOWN_VALUES):
        return orjson.dumps
    return None  # this orjson writes something differently: json only


_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
_FAST = _fast_encoder()
