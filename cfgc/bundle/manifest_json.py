"""A bundle manifest's canonical bytes, its targets' entries checked by their shape.

:func:`cfgc.base.canonical.canonical_json` proves a value float-free by walking
all of it before it takes orjson's bytes (every hex digest holds an ``e`` after
a digit, the mark it looks for): at 100,000 targets that walk was 0.17 s of the
build's serial end, five times orjson's own encoding.  A manifest's entries all
have one shape (:func:`cfgc.bundle.layout.manifest_entry`), so they are checked
as that shape instead: exact types, no walk; anything else is walked as before.
The bytes are always :func:`canonical_json`'s (``tests/unit/bundle/test_manifest_json.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cfgc.base.canonical import canonical_json, floats_plain


def manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    """``canonical_json(manifest)``, without walking entries of the usual shape."""
    plain = type(manifest) is dict and _entries_plain(manifest.get("targets"))
    if plain:
        rest = {k: v for k, v in manifest.items() if k != "targets"}
        plain = floats_plain(rest)
    return canonical_json(manifest, plain)


def _entries_plain(entries: object) -> bool:
    """Whether every entry is a dict of a ``str`` digest, an ``int`` size, a dict of ``str``
    vars and lists of ``str`` prompts and secrets (exact types; other keys are walked)."""
    if type(entries) is not dict:
        return False
    for entry in entries.values():
        if type(entry) is not dict:
            return False
        for key, value in entry.items():
            t = type(value)
            if key == "digest" or key == "size":
                if t is not str and t is not int:
                    return False
            elif key == "vars" and t is dict:
                for v in value.values():
                    if type(v) is not str:
                        return False
            elif (key == "prompts" or key == "secrets") and t is list:
                for v in value:
                    if type(v) is not str:
                        return False
            elif not floats_plain(value):
                return False
    return True
