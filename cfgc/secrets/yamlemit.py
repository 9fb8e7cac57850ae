"""Emit YAML in the layout sops (Go yaml.v3, indent 4) writes."""

from __future__ import annotations

import base64
import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import Any

import yaml

from cfgc.base.errors import InputError
from cfgc.secrets.cipher import Comment, format_go_time

INDENT = 4
_YAML11 = yaml.SafeLoader  # for "would PyYAML read this as non-string?"
_INDICATORS = set("-?:,[]{}#&*!|>'\"%@`")
_OLD_BOOLS = frozenset(
    [
        "y",
        "Y",
        "yes",
        "Yes",
        "YES",
        "n",
        "N",
        "no",
        "No",
        "NO",
        "on",
        "On",
        "ON",
        "off",
        "Off",
        "OFF",
        "true",
        "True",
        "TRUE",
        "false",
        "False",
        "FALSE",
    ]
)
_NEEDS_DOUBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff\t]"
)


def _resolves_to_non_string(s: str) -> bool:
    from cfgc.secrets.yamlio import resolve_plain

    if not isinstance(resolve_plain(s), str):
        return True
    if s in _OLD_BOOLS:
        return True
    tag: str = yaml.resolver.Resolver().resolve(yaml.ScalarNode, s, (True, False))
    # PyYAML alone resolves "!", "&", "*" ("yaml") and "=" ("value"); yaml.v3
    # reads them as strings, and sops writes them as such ('!', =)
    return tag not in ("tag:yaml.org,2002:str", "tag:yaml.org,2002:yaml", "tag:yaml.org,2002:value")


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\x00": "\\0",
    # libyaml's (and so yaml.v3's) short escapes, checked against sops 3.11
    "\x07": "\\a", "\x08": "\\b", "\x0b": "\\v", "\x0c": "\\f", "\x1b": "\\e",
    "\x85": "\\N", "\u2028": "\\L", "\u2029": "\\P",
}  # fmt: skip


def _printable(c: str) -> bool:
    o = ord(c)
    return (
        0x20 <= o <= 0x7E
        or 0xA0 <= o <= 0xD7FF
        or 0xE000 <= o <= 0xFFFD and o != 0xFEFF
        or 0x10000 <= o <= 0x10FFFF
    ) and c not in "\u2028\u2029"


def _double(s: str) -> str:
    out = []
    for c in s:
        if c in _ESCAPES:
            out.append(_ESCAPES[c])
        elif _printable(c):
            out.append(c)
        elif ord(c) <= 0xFF:
            out.append(f"\\x{ord(c):02X}")
        elif ord(c) <= 0xFFFF:
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(f"\\U{ord(c):08X}")
    return '"' + "".join(out) + '"'


def scalar(s: str) -> str:
    """A string scalar, plain where safe, else single- or double-quoted."""
    if s == "":
        return '""'
    if _NEEDS_DOUBLE.search(s) or "\n" in s or "\r" in s or _resolves_to_non_string(s):
        return _double(s)
    if (
        (s[0] in _INDICATORS and not (s[0] in "-?:" and s[1:2] not in ("", " ", "\t")))
        or s.startswith(("---", "..."))
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


def _leaf(v: object) -> str:
    if isinstance(v, bytes):
        return "!!binary " + base64.b64encode(v).decode()
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
    return all(not line.endswith(" ") for line in s.split("\n"))


def _literal(s: str, indent: int, parent: int) -> str:
    """``s`` as a literal block whose lines sit at ``indent``, under a node
    indented ``parent`` (an indentation indicator counts from the parent)."""
    body = s.rstrip("\n")
    trailing = len(s) - len(body)
    # yaml.v3 (libyaml's rules): keep ("+") for two or more final breaks and for
    # a string that is one break; an indentation indicator when the first line
    # starts with a space or is empty, or the reader would take it for indentation.
    # yaml.v3 always writes the indicator 4, which is wrong inside a compact
    # collection ("- - |4-" with its lines at 8: the inner sequence is indented 6),
    # and sops cannot read that file back; the indicator here is the real distance.
    chomp = "-" if trailing == 0 else ("" if trailing == 1 and body else "+")
    hint = str(indent - parent) if s[0] in " \n" else ""
    pad = " " * indent
    lines = s.split("\n") if chomp == "+" else body.split("\n")
    if chomp == "+":
        lines = lines[:-1]
    text = "\n".join(pad + line if line else "" for line in lines)
    return f"|{hint}{chomp}\n{text}"


def _deeper(indent: int) -> int:
    """yaml.v3: nested blocks align to the next multiple of the indentation."""
    return INDENT * ((indent + INDENT) // INDENT)


def _real(v: Any) -> bool:
    """Whether a collection has entries other than comments."""
    return any(not isinstance(x, Comment) for x in v)


def _comment_line(first: str, indent: int, c: Comment) -> str:
    """A comment line; before a collection's first entry it goes at the dash column, as yaml.v3."""
    col = first.rfind("-") if "-" in first else indent
    return " " * col + "#" + c.value


def _child(head: str, v: object, indent: int, out: list[str]) -> None:
    """Write ``head`` (``key:`` or ``-``) of a node at ``indent``, then value ``v``."""
    inner = _deeper(indent)
    if isinstance(v, Mapping | list) and v and not _real(v):
        out.append(f"{head} {{}}" if isinstance(v, Mapping) else f"{head} []")
        out.extend(" " * inner + "#" + c.value for c in v)
    elif isinstance(v, Mapping) and v:
        out.append(head)
        _mapping(v, inner, " " * inner, out)
    elif isinstance(v, list) and v:
        out.append(head)
        _sequence(v, inner, " " * inner, out)
    elif isinstance(v, Mapping):
        out.append(f"{head} {{}}")
    elif isinstance(v, list):
        out.append(f"{head} []")
    elif isinstance(v, str) and _block(v):
        # yaml.v3: the first indent inside a sequence item just skips the "- "
        # indicator; everything else aligns to the next multiple of 4.
        lines_at = indent + 2 if head.endswith("-") else inner
        out.append(f"{head} {_literal(v, lines_at, indent)}")
    else:
        out.append(f"{head} {_leaf(v)}")


def _mapping(m: Mapping[str, Any], indent: int, first: str, out: list[str]) -> None:
    started = False
    for k, v in m.items():
        if isinstance(k, Comment):
            out.append(_comment_line(first, indent, k) if not started else " " * indent + "#" + k.value)
            continue
        lead = first if not started else " " * indent
        started = True
        _child(f"{lead}{scalar(str(k))}:", v, indent, out)


def _sequence(items: list[Any], indent: int, first: str, out: list[str]) -> None:
    started = False
    for v in items:
        if isinstance(v, Comment):
            out.append(_comment_line(first, indent, v) if not started else " " * indent + "#" + v.value)
            continue
        lead = (first if not started else " " * indent) + "-"
        started = True
        # a collection inside a sequence item starts right after "- " (indent + 2)
        if isinstance(v, Mapping) and _real(v):
            _mapping(v, indent + 2, lead + " ", out)
        elif isinstance(v, list) and _real(v):
            _sequence(v, indent + 2, lead + " ", out)
        else:
            _child(lead, v, indent, out)


def dump(doc: object) -> str:
    """Serialise a tree (mapping at the top) as sops-style YAML."""
    out: list[str] = []
    if not isinstance(doc, Mapping):
        raise InputError("the top level of a YAML document must be a mapping")
    if not _real(doc):
        return "{}\n" + "".join(f"#{c.value}\n" for c in doc)
    _mapping(doc, 0, "", out)
    return "\n".join(out) + "\n"
