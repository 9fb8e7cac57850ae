"""Reading a YAML file's text: UTF-8 decoding, the nesting guard, and cfgc's wording of refusals.

Everything here runs before (or instead of) building values: the text must be
valid UTF-8, must not nest deeper than :data:`MAX_DEPTH` (libyaml composes
recursively in C and would overflow the C stack first), and a file libyaml
refuses is described in cfgc's words at a location inside the file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, cast

from cfgc.base.errors import InputError, Location

if TYPE_CHECKING:
    import yaml

# PyYAML is imported by the functions that use it: an ordinary file is parsed by
# the fast path (cfgc.base.yaml_fast) and never reaches them, and a one-file
# rebuild should not pay for PyYAML's import (about 20 ms).

MAX_DEPTH = 64
# What aliases may expand to (checked by cfgc.base.yaml_alias before any value is built).
MAX_EXPANDED_NODES = 200_000
# Characters of scalars (keys included) once aliases are expanded: compiling,
# scanning and writing a value all cost its expanded size, not its file size.
MAX_EXPANDED_CHARS = 16 * 1024 * 1024
# libyaml composes recursively in C: a document nested tens of thousands of
# levels deep overflows the C stack.  Such depth needs many brackets or very
# long lines, so only those documents pay for an event scan first.
_DEPTH_SCAN_THRESHOLD = 2_000


def decode(raw: bytes, path: str) -> str:
    """Decode UTF-8 (with or without BOM), or fail at the first bad byte."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        before = raw[: e.start]
        line = before.count(b"\n") + 1
        col = e.start - (before.rfind(b"\n") + 1) + 1
        raise InputError(
            f"file is not valid UTF-8 (byte 0x{raw[e.start]:02x})", Location(path, line, col)
        ) from None


def _longest_line(text: str) -> int:
    if len(text) <= _DEPTH_SCAN_THRESHOLD:
        return 0
    return max(map(len, text.splitlines()), default=0)


def guard_depth(text: str, path: str) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH` before anything composes it.

    Cheap for ordinary files: only text with many brackets or very long lines
    (the only way to nest thousands of levels) pays for an event scan.
    """
    if text.count("[") + text.count("{") + _longest_line(text) > _DEPTH_SCAN_THRESHOLD:
        _scan_depth(text, path)


def _scan_depth(text: str, path: str) -> None:
    import yaml

    try:
        too_deep = _first_too_deep(text, path, getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as e:
        raise diagnose(text, path, e) from None
    if too_deep is not None:
        raise too_deep


def _first_too_deep(text: str, path: str, loader: type) -> InputError | None:
    """The error for the first collection nested deeper than :data:`MAX_DEPTH`, if any
    (parsing stops there); a syntax error before it is raised."""
    import yaml

    depth = 0
    for ev in yaml.parse(text, Loader=loader):
        if isinstance(ev, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                return _too_deep(path, cast(_Mark, ev.start_mark))  # a parser's events always have marks
        elif isinstance(ev, yaml.CollectionEndEvent):
            depth -= 1
    return None


def diagnose(text: str, path: str, err: yaml.YAMLError) -> InputError:
    """Turn a refusal by libyaml into cfgc's own error.

    libyaml's limits and wording change between releases (0.2.5 stops at 1,000
    nesting levels with its own message), so what the user sees must not come
    from it.  The file is read again with PyYAML's pure-Python parser, which has
    no nesting limit of its own: cfgc's depth limit is applied on its events, and
    any syntax error is worded by :func:`_yaml_error`.  This only runs for a file
    that is already refused, and the parse stops at the first problem.
    """
    import yaml

    try:
        too_deep = _first_too_deep(text, path, yaml.SafeLoader)
        if too_deep is not None:
            return too_deep
        # Aliases and anchors are checked by the composer; the depth is now known
        # to be small enough for its recursion.
        yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        return _yaml_error(e, path, text)
    except yaml.YAMLError:
        pass
    if isinstance(err, yaml.MarkedYAMLError):
        return _yaml_error(err, path, text)
    return InputError("invalid YAML", Location(path))


class _Mark(Protocol):
    """A position in the text, from PyYAML or libyaml (two classes with the same fields)."""

    @property
    def line(self) -> int: ...

    @property
    def column(self) -> int: ...


def _too_deep(path: str, mark: _Mark) -> InputError:
    return InputError(f"nesting deeper than {MAX_DEPTH} levels", Location(path, mark.line + 1, mark.column + 1))


def _yaml_error(e: yaml.MarkedYAMLError, path: str, text: str) -> InputError:
    from cfgc.base.yaml_messages import describe

    mark = e.problem_mark or e.context_mark
    loc = _clamped(path, text, mark.line, mark.column) if mark else Location(path)
    return InputError(describe(e), loc)


def _clamped(path: str, text: str, line: int, column: int) -> Location:
    """A 0-based mark as a location inside the file: an error at the end of
    the stream (past the last line) points just after the last non-blank line."""
    lines = text.splitlines()
    if line < len(lines):
        return Location(path, line + 1, column + 1)
    last = len(lines)
    while last > 1 and not lines[last - 1].strip():
        last -= 1
    return Location(path, max(last, 1), len(lines[last - 1]) + 1 if lines else 1)
