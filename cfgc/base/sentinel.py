"""Named singleton values (``DELETE``, ``MISSING``) compared by identity."""

from __future__ import annotations


class Sentinel:
    """A named singleton that keeps its identity through pickling, so values
    that cross to and from worker processes still compare with ``is``."""

    _all: dict[str, Sentinel] = {}

    def __new__(cls, name: str) -> Sentinel:
        existing = cls._all.get(name)
        if existing is None:
            existing = cls._all[name] = super().__new__(cls)
            existing._name = name
        return existing

    _name: str

    def __reduce__(self) -> tuple[type[Sentinel], tuple[str]]:
        return (Sentinel, (self._name,))

    def __repr__(self) -> str:
        return self._name
