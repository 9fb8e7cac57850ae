"""Paths into a document tree: one syntax for every command and API that takes one.

A path is a tuple of mapping keys (str) and list indexes (int).  Written, it
is dot-separated segments, each a name followed by any number of brackets::

    models.primary.timeout_s      routing.fallbacks.0      routing.fallbacks[0]
    ["models"]["primary"][0]      ["key.with.dots"][-1]     (sops' form: brackets only)

A segment or bracket of digits (with an optional ``-`` in brackets) is a list
index; a quoted bracket is always a key (JSON string syntax).  Lookups
(:func:`lookup`) read an index on a mapping as the key of the same digits, so
``a.0`` reaches both ``a: ["x"]`` and ``a: {"0": "x"}``.

:func:`parse` is strict (an empty segment or a malformed bracket is an error);
``lenient=True`` keeps what ``cfgc explain``, policies and ``$extends`` have
always taken: empty segments are skipped, a bare ``[name]`` is a key, and a
segment whose brackets do not close it is a plain name.  :func:`dotted` writes
the canonical form (``a.b[0]``), which both modes read back.
"""

from __future__ import annotations

import json
import re
from typing import Any

from cfgc.base.loading import Path
from cfgc.base.sentinel import Sentinel

MISSING: Any = Sentinel("MISSING")  # the same object as cfgc.compile.merging.MISSING
_BRACKET = re.compile(r'\[\s*("(?:[^"\\]|\\.)*"|-?\d+|[^\[\]"]*)\s*\]')
_SEGMENT = re.compile(r"^([^\[\]]*)((?:\[[^\[\]]*\])*)$")


class PathError(ValueError):
    """A path that does not parse (callers turn it into their own error)."""


def parse(text: str, *, lenient: bool = False) -> Path:
    """``a.b[0]``, ``a.b.0`` or ``["a"]["b"][0]`` as ``('a', 'b', 0)``; PathError if malformed."""
    text = text.strip()
    if text.startswith("[") and '"' in text:
        # sops' form: dots may sit inside the quoted keys, so no splitting on them.
        try:
            return _brackets(text, text, lenient)
        except PathError:
            if not lenient:
                raise
    out: list[str | int] = []
    for part in text.split("."):
        if not part:
            if lenient:
                continue
            raise PathError(f"invalid path {text!r}: empty segment")
        m = _SEGMENT.match(part)
        if m is None or (not m.group(1) and not m.group(2)):
            if lenient:
                out.append(part)
                continue
            raise PathError(f"invalid path {text!r}: {part!r} is not name[index]")
        name, rest = m.groups()
        if name:
            out.append(int(name) if name.isdigit() else name)
        out.extend(_brackets(rest, text, lenient))
    return tuple(out)


def _brackets(text: str, whole: str, lenient: bool) -> Path:
    out: list[str | int] = []
    pos = 0
    for m in _BRACKET.finditer(text):
        if m.start() != pos and text[pos : m.start()].strip():
            break
        pos = m.end()
        seg = m.group(1)
        if seg.startswith('"'):
            out.append(json.loads(seg))
        elif seg.lstrip("-").isdigit():
            out.append(int(seg))
        elif lenient:
            out.append(seg)
        else:
            raise PathError(f'invalid path {whole!r}: quote the key in [{seg}] (["{seg}"])')
    if text[pos:].strip():
        raise PathError(f'invalid path {whole!r}: use ["a"]["b"] or a.b')
    return tuple(out)


def dotted(path: Path) -> str:
    """``('models', 'primary', 0)`` as ``models.primary[0]`` (``(root)`` for the empty path)."""
    out = ""
    for k in path:
        if type(k) is int:
            out += f"[{k}]"
        else:
            out += ("." if out else "") + str(k)
    return out or "(root)"


def flat(path: Path) -> str:
    """``('routing', 'fallbacks', 0)`` as ``routing.fallbacks.0`` (the runtime's flat keys)."""
    return ".".join(str(k) for k in path)


def flat_key(text: str) -> str:
    """Any written form of a path as the runtime's flat key (``a.b[0]`` -> ``a.b.0``)."""
    try:
        return flat(parse(text))
    except PathError:
        return text


def lookup(value: Any, path: Path, *, negative: bool = False) -> Any:
    """The value at ``path``, or :data:`MISSING`; ``negative`` lets -1 index a list from its end."""
    for key in path:
        if type(value) is dict:
            if key in value:
                value = value[key]
            elif type(key) is int and str(key) in value:
                value = value[str(key)]
            else:
                return MISSING
        elif type(value) is list and type(key) is int:
            if not (-len(value) if negative else 0) <= key < len(value):
                return MISSING
            value = value[key]
        else:
            return MISSING
    return value
