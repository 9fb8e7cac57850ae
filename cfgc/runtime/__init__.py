"""The cfgc runtime: verified, cached, hot-swapped configuration for services.

``ConfigClient`` for Python services (see :mod:`cfgc.runtime.client`), and
``cfgc agent``, the sidecar serving the same over loopback HTTP.
See docs/runtime.md.

May import: every package below it (cfgc.base to cfgc.stores); never cfgc.review or cfgc.cli.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cfgc.runtime.client import ConfigClient as ConfigClient

__all__ = ["ConfigClient"]


def __getattr__(name: str) -> Any:
    if name == "ConfigClient":
        from cfgc.runtime.client import ConfigClient

        return ConfigClient
    raise AttributeError(name)
