"""Templates that are only plain lookups, recognised without Jinja2.

``https://{{ service }}.{{ config.org.domain }}`` is literal text and names;
:mod:`cfgc.compile.templating` evaluates such a template itself, exactly as
Jinja2 would, and leaves every other template to Jinja2.
"""

from __future__ import annotations

import re
from functools import lru_cache

# ``{{ name }}`` / ``{{ config.a.b }}``: a lookup that needs no Jinja2 (see _Renderer._lookup).
_LOOKUP = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\}\}")
Simple = tuple[bool, tuple[str, ...], tuple[tuple[str, ...], ...]]


@lru_cache(maxsize=4096)
def simple(text: str) -> Simple | None:
    """``(whole, literals, names)`` when ``text`` is only literal text and plain lookups, else None.

    Most templates of a real repo are lookups (``https://{{ service }}.{{ config.org.domain }}``);
    rendering them through Jinja2 cost about a third of a full-corpus compile.  Anything
    else (filters, operators, statements, whitespace control, a brace or a carriage
    return in the text, which Jinja2 would normalise) is left to Jinja2.
    """
    parts = _LOOKUP.split(text)
    literals, names = tuple(parts[0::2]), tuple(tuple(n.split(".")) for n in parts[1::2])
    if not names or any(c in lit for lit in literals for c in "{}\r"):
        return None
    whole = len(names) == 1 and not literals[0].strip() and not literals[1].strip()
    return whole, literals, names
