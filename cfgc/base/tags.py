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
