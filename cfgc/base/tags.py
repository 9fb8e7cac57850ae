"""Marker values for the cfgc YAML merge tags.

The loader turns ``!replace``, ``!delete``, ``!append``, ``!prepend`` and
``!prompt`` into these objects; the merger consumes them, so none survives into
a compiled target except :class:`PromptRef`, which the prompt resolver pins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cfgc.base.errors import InputError, Location
from cfgc.base.sentinel import Sentinel


@dataclass(frozen=True)
class Replace:
    """``!replace``: this mapping or list replaces the inherited one."""

    value: Any


DELETE = Sentinel("DELETE")
"""``!delete``: remove the inherited key."""


@dataclass(frozen=True)
class Append:
    """``!append [..]``: extend the inherited list at the end."""

    items: tuple[Any, ...]


@dataclass(frozen=True)
class Prepend:
    """``!prepend [..]``: extend the inherited list at the front."""

    items: tuple[Any, ...]


_PROMPT_REF = re.compile(r"([a-z0-9][a-z0-9_.-]*)@(\S.*)\Z", re.IGNORECASE)


@dataclass(frozen=True)
class PromptRef:
    """``!prompt name@range``: a reference to a prompt template version range."""

    name: str
    spec: str
    location: Location

    @classmethod
    def parse(cls, text: str, location: Location) -> PromptRef:
        """Parse ``name@range`` (``summarize@^1.0``) or raise an input error."""
        m = _PROMPT_REF.match(text.strip())
        if not m:
            raise InputError(
                f"!prompt expects 'name@version-range' such as 'summarize@^1.0', got {text!r}",
                location,
            )
        return cls(m.group(1), m.group(2).strip(), location)

    def __str__(self) -> str:
        return f"{self.name}@{self.spec}"


# The (name, spec) of each reference text met before: a service file's few
# references repeat across thousands of files.  Bounded in entries and in
# the length of a text kept.
_REFS: dict[str, tuple[str, str]] = {}
REFS_MAX = 4096
REF_MAX_CHARS = 256
_new = object.__new__


def prompt_ref(text: str, path: str, line: int, col: int) -> PromptRef | None:
    """``PromptRef.parse(text, Location(path, line, col))``, or None where that
    raises: for the fast YAML path, which declines such a value to the careful
    loader (that one reports the error).

    The two frozen objects are filled in directly, not through their
    dataclass ``__init__`` (one ``object.__setattr__`` call per field): the
    same attributes in the same order, so equality, hashing and ``repr`` are
    those of the constructed objects (tests/unit/base/test_prompt_ref_fast.py);
    with the parse kept per text, 2.3 → 0.9 µs a ``!prompt`` tag.
    """
    parts = _REFS.get(text)
    if parts is None:
        m = _PROMPT_REF.match(text.strip())
        if not m:
            return None
        parts = (m.group(1), m.group(2).strip())
        if len(_REFS) < REFS_MAX and len(text) <= REF_MAX_CHARS:
            _REFS[text] = parts
    loc = _new(Location)
    d = loc.__dict__
    d["path"] = path
    d["line"] = line
    d["col"] = col
    ref = _new(PromptRef)
    d = ref.__dict__
    d["name"], d["spec"] = parts
    d["location"] = loc
    return ref
