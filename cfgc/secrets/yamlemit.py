"""Emit YAML in the layout sops (Go yaml.v3, indent 4) writes."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from typing import Any

import yaml

from cfgc.errors import InputError
from cfgc.secrets.cipher import format_go_time

INDENT = 4
_YAML11 = yaml.SafeLoader  # for "would PyYAML read this as non-string?"
_INDICATORS = set("-?:,[]{}#&*!|>'\"%@`")
_NEEDS_DOUBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff\t]")


def _resolves_to_non_string(s: str) -> bool:
    from cfgc.secrets.yamlio import resolve_plain

    if not isinstance(resolve_plain(s), str):
        return True
    tag = yaml.resolver.Resolver().resolve(yaml.ScalarNode, s, (True, False))
    return tag != "tag:yaml.org,2002:str"


def _double(s: str) -> str:
    out = json.dumps(s, ensure_ascii=False)
    for ch in ("\u2028", "\u2029", "\x85", "\ufeff"):
        out = out.replace(ch, f"\\u{ord(ch):04x}")
    return out


def scalar(s: str) -> str:
    """A string scalar, plain where safe, else single- or double-quoted."""
    if s == "":
        return '""'
    if _NEEDS_DOUBLE.search(s) or "\n" in s or "\r" in s or _resolves_to_non_string(s):
        return _double(s)
    if (
        s[0] in _INDICATORS
        or s[0] == " "
        or s[-1] in " :"
        or ": " in s
        or " #" in s
        or s in ("-", "?", ":")
    ):
        return "'" + s.replace("'", "''") + "'"
    return s


def _float(f: float) -> str:
    if math.isnan(f):
        return ".nan"
    if math.isinf(f):
        return ".inf" if f > 0 else "-.inf"
    r = repr(f)
    if "e" in r and "." not in r.split("e")[0]:
        mant, exp = r.split("e")
        r = f"{mant}.0e{exp}"
    return r


def _leaf(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _float(v)
    if isinstance(v, dt.datetime):
        return format_go_time(v)
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, str):
        return scalar(v)
    raise InputError(f"cannot write a {type(v).__name__} value as YAML")


def _block(s: str) -> bool:
    """Whether a multi-line string can be written as a literal block."""
    if "\n" not in s or _NEEDS_DOUBLE.search(s.replace("\t", "")) or "\r" in s:
        return False
    if s[0] in " \n":
        return False
    return all(not line.endswith(" ") for line in s.split("\n"))


def _literal(s: str, indent: int) -> str:
    body = s.rstrip("\n")
    trailing = len(s) - len(body)
    chomp = "-" if trailing == 0 else ("" if trailing == 1 else "+")
    pad = " " * indent
    lines = s.split("\n") if chomp == "+" else body.split("\n")
    if chomp == "+":
        lines = lines[:-1]
    text = "\n".join(pad + line if line else "" for line in lines)
    return f"|{chomp}\n{text}"


def _emit(v: Any, indent: int, out: list[str], prefix: str) -> None:
    """Write ``v`` whose first line starts with ``prefix`` at column ``indent``."""
    pad = " " * indent
    if isinstance(v, Mapping):
        if not v:
            out.append(f"{prefix}{{}}")
            return
        first = True
        for k, item in v.items():
            lead = prefix if first else pad
            first = False
            key = scalar(str(k))
            _emit_item(f"{lead}{key}:", item, indent, out)
        return
    if isinstance(v, list):
        if not v:
            out.append(f"{prefix}[]")
            return
        first = True
        for item in v:
            lead = prefix if first else pad
            first = False
            if isinstance(item, Mapping | list) and item:
                _emit(item, indent + 2, out, f"{lead}- ")
            else:
                _emit_item(f"{lead}-", item, indent, out)
        return
    out.append(prefix + _leaf(v))


def _emit_item(head: str, item: Any, indent: int, out: list[str]) -> None:
    if isinstance(item, Mapping) and item:
        out.append(head)
        _emit(item, indent + INDENT, out, " " * (indent + INDENT))
    elif isinstance(item, list) and item:
        out.append(head)
        _emit(item, indent + INDENT, out, " " * (indent + INDENT))
    elif isinstance(item, str) and _block(item):
        out.append(f"{head} {_literal(item, indent + INDENT)}")
    else:
        out.append(f"{head} {_leaf(item) if not isinstance(item, Mapping | list) else ('{}' if isinstance(item, Mapping) else '[]')}")


def dump(doc: Any) -> str:
    """Serialise a tree (mapping at the top) as sops-style YAML."""
    out: list[str] = []
    if isinstance(doc, Mapping) and not doc:
        return "{}\n"
    _emit(doc, 0, out, "")
    return "\n".join(out) + "\n"
