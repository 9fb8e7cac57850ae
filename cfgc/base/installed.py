"""Which installed version of a library is in use, without importing it.

Caches and the in-place state are keyed on the libraries that shape their
contents; importing each to ask its version would cost start-up time, so the
stamp is where its ``__init__`` is, with that file's size and mtime, which a
reinstall or an upgrade changes.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys

# The one form a module's version is read in without importing it: a literal on a line of its own.
_VERSION = re.compile(r"^__version__ = (['\"])([^'\"\\\n]+)\1[ \t]*$", re.M)


def install_stamps(names: tuple[str, ...], label: dict[str, str] | None = None) -> list[str]:
    """``"<label> <origin> <size> <mtime_ns>"`` for each installed module of ``names`` (absent ones left out)."""
    parts = []
    for name in names:
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec is not None else None
        if origin and os.path.exists(origin):
            st = os.stat(origin)
            parts.append(f"{(label or {}).get(name, name)} {origin} {st.st_size} {st.st_mtime_ns}")
    return parts


def declared_version(name: str) -> str:
    """``str(module.__version__)`` of module ``name``, without importing it when
    its ``__init__`` names ``__version__`` once, to set it to a string literal
    on a line of its own (read from the file the import would run; any other
    form: imported and asked)."""
    mod = sys.modules.get(name)
    if mod is None:
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec is not None else None
        if origin and origin.endswith(".py"):
            try:
                with open(origin, encoding="utf-8") as f:
                    text = f.read()
            except (OSError, ValueError):
                text = ""
            # The name once in the whole file: nothing else can set it.
            found = _VERSION.findall(text) if text.count("__version__") == 1 else []
            if len(found) == 1:
                version: str = found[0][1]
                return version
        mod = importlib.import_module(name)
    return str(mod.__version__)
