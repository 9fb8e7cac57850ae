"""The collector's phases moved to :mod:`cfgc.base.gc_phases` (the build uses them too)."""

from __future__ import annotations

from cfgc.base.gc_phases import collector_paused, frozen_scope

__all__ = ["collector_paused", "frozen_scope"]
