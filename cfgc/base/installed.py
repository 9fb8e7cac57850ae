"""Which installed version of a library is in use, without importing it.

Caches and the in-place state are keyed on the libraries that shape their
contents; importing each to ask its version would cost start-up time, so the
stamp is where its ``__init__`` is, with that file's size and mtime, which a
reinstall or an upgrade changes.
"""

from __future__ import annotations

import importlib.util
import os


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
