"""YAML as sops reads and writes it (Go yaml.v3 rules), on top of PyYAML.

Reading: plain scalars resolve as yaml.v3 does (``yes``/``on`` stay strings,
``0755`` is octal, ``1_000`` is an int, ``2024-01-02`` is a timestamp), duplicate
keys are errors, keys must be strings.  Writing: 4-space indentation, sequences
indented under their key, literal blocks for multi-line strings, quotes only where
a plain scalar would read back as something else.  Comments are kept as sops
keeps them (:mod:`cfgc.secrets.comments`); YAML merge keys and integers outside
int64 are refused at their line, as sops cannot read them back.

Why not ruamel.yaml's round-trip mode: sops does not keep comments where YAML
put them, it turns them into entries of the enclosing collection (encrypted,
with that collection's key path as AAD).  What cfgc must reproduce is that
entry list, not the text layout, and PyYAML's node marks give exactly what is
needed to place each comment (:mod:`cfgc.secrets.yamlcomments`), without a
second YAML parser whose scalar rules differ from yaml.v3 in other ways.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import TYPE_CHECKING, Any

import yaml

from cfgc.base.errors import InputError
from cfgc.base.loading import decode, diagnose, guard_depth
from cfgc.secrets.cipher import NanoTime
from cfgc.secrets.yamlcomments import build

if TYPE_CHECKING:  # the stubs declare libyaml's loader; the pure-Python one has the same methods
    from yaml import CSafeLoader as _Base
else:
    _Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_PLAIN = "tag:cfgc:plain"
_FLOAT_RE = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_INT_RES = [
    (re.compile(r"^[-+]?0[xX][0-9a-fA-F]+$"), 16),
    (re.compile(r"^[-+]?0[oO]?[0-7]+$"), 8),
    (re.compile(r"^[-+]?0[bB][01]+$"), 2),
    (re.compile(r"^[-+]?[0-9]+$"), 10),
]
_TS_RE = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:(?:[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(\.\d+)?(Z|[+-]\d{2}:\d{2}))"
    r"|(?: (\d{1,2}):(\d{1,2}):(\d{1,2})(\.\d+)?))?$"
)
_SPECIAL = {
    "": None,
    "~": None,
    "null": None,
    "Null": None,
    "NULL": None,
    "true": True,
    "True": True,
    "TRUE": True,
    "false": False,
    "False": False,
    "FALSE": False,
    ".nan": math.nan,
    ".NaN": math.nan,
    ".NAN": math.nan,
    ".inf": math.inf,
    ".Inf": math.inf,
    ".INF": math.inf,
    "+.inf": math.inf,
    "+.Inf": math.inf,
    "+.INF": math.inf,
    "-.inf": -math.inf,
    "-.Inf": -math.inf,
    "-.INF": -math.inf,
}


def parse_timestamp(s: str) -> dt.datetime | None:
    m = _TS_RE.match(s)
    if m is None:
        return None
    y, mo, d = int(m[1]), int(m[2]), int(m[3])
    hh, mm, ss, frac, tz = m[4], m[5], m[6], m[7], m[8]
    if hh is None:
        hh, mm, ss, frac, tz = m[9], m[10], m[11], m[12], "Z"
    try:
        if hh is None:
            return dt.datetime(y, mo, d, tzinfo=dt.UTC)
        nanos = int((frac[1:] + "0" * 9)[:9]) if frac else 0
        us = nanos // 1000
        if tz == "Z":
            tzinfo = dt.UTC
        else:
            sign = -1 if tz[0] == "-" else 1
            tzinfo = dt.timezone(sign * dt.timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6])))
        t = dt.datetime(y, mo, d, int(hh), int(mm), int(ss), us, tzinfo=tzinfo)
        # Go keeps nanoseconds (and sops MACs them): so must we
        return NanoTime.of(t, nanos) if nanos % 1000 else t
    except ValueError:
        return None


def resolve_plain(s: str) -> object:
    """The value of a plain YAML scalar under yaml.v3 rules."""
    if s in _SPECIAL:
        return _SPECIAL[s]
    if not s or s[0] not in "+-.0123456789":
        return s
    if s[0] == ".":
        try:
            return float(s) if _FLOAT_RE.match(s) else s
        except ValueError:
            return s
    ts = parse_timestamp(s)
    if ts is not None:
        return ts
    plain = s.replace("_", "")
    for rx, base in _INT_RES:
        if rx.match(plain):
            digits = plain.replace("0o", "").replace("0O", "") if base == 8 else plain
            return int(digits, base)
    if _FLOAT_RE.match(plain):
        return float(plain)
    return s


class _Loader(_Base):
    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0]:
            return _PLAIN
        return yaml.resolver.Resolver.resolve(self, kind, value, implicit)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise InputError(
                    f"line {key_node.start_mark.line + 1}: only string keys are supported"
                )
            if key in seen:
                raise InputError(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _plain(loader: Any, node: Any) -> object:
    return resolve_plain(loader.construct_scalar(node))


def _binary(loader: Any, node: Any) -> object:
    # yaml.v3 decodes !!binary into a Go string: UTF-8 text reads back as a plain
    # string; other bytes stay bytes (sops encrypts them as they are, type str)
    raw = yaml.SafeLoader.construct_yaml_binary(loader, node)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return bytes(raw)


def _timestamp(loader: Any, node: Any) -> object:
    text = loader.construct_scalar(node)
    ts = parse_timestamp(text)
    if ts is None:
        raise InputError(f"line {node.start_mark.line + 1}: not a timestamp")
    return ts


_Loader.add_constructor(_PLAIN, _plain)
_Loader.add_constructor("tag:yaml.org,2002:binary", _binary)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


def _load_all(text: str) -> list[Any]:
    loader = _Loader(text)
    try:
        docs = []
        while loader.check_node():
            node = loader.get_node()
            docs.append(build(loader, node, text))
        return docs
    finally:
        loader.dispose()


def load(text: str | bytes) -> Any:
    """Load one YAML document (several documents are refused)."""
    if isinstance(text, bytes):
        text = decode(text, "")
    try:
        guard_depth(text, "")
        docs = _load_all(text)
    except yaml.YAMLError as e:
        err = diagnose(text, "", e)
        loc = err.location
        where = f"line {loc.line}: " if loc is not None and loc.line else ""
        raise InputError(f"{where}{err.message}") from None
    except InputError as e:
        loc = e.location
        where = f"line {loc.line}: " if loc is not None and loc.line else ""
        raise InputError(f"{where}{e.message}") from None
    if len(docs) > 1:
        raise InputError("multi-document YAML files are not supported")
    return docs[0] if docs else None
