"""Which ``Host`` headers the agent answers: the DNS-rebinding guard.

A web page in a browser on the same machine can make its own domain resolve
to 127.0.0.1 and then read the agent's answers as same-origin; the browser
still sends the page's domain in ``Host``.  So by default only loopback names
are answered; ``--allow-host`` adds names (a Kubernetes service name) for the
non-secret routes; secrets are answered only to loopback names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})
REFUSED, ALLOWED, LOOPBACK = 0, 1, 2
_CACHE_MAX = 256


@dataclass(frozen=True)
class HostPolicy:
    """Classifies a ``Host`` header value: REFUSED, ALLOWED (non-secret routes) or LOOPBACK (all routes).

    ``check=False`` (a unix-socket listener, which no browser can reach) makes every host LOOPBACK.
    A request without ``Host`` (HTTP/1.0 only; HTTP/1.1 requires it) is ALLOWED, not LOOPBACK.
    """

    allowed: frozenset[str] = frozenset()
    check: bool = True
    _cache: dict[str | None, int] = field(default_factory=dict, compare=False, repr=False)

    def classify(self, host: str | None) -> int:
        kind = self._cache.get(host)
        if kind is None:
            kind = self._classify(host)
            if len(self._cache) < _CACHE_MAX:
                self._cache[host] = kind
        return kind

    def _classify(self, host: str | None) -> int:
        if not self.check:
            return LOOPBACK
        if host is None:
            return ALLOWED
        name = host.strip().lower()
        base, sep, port = name.rpartition(":")
        if sep and port.isdigit() and (not base.startswith("[") or base.endswith("]")):
            name = base
        if name in LOOPBACK_NAMES:
            return LOOPBACK
        if name.rstrip(".") in self.allowed:
            return ALLOWED
        return REFUSED


def allowed_names(names: tuple[str, ...]) -> frozenset[str]:
    """``--allow-host`` values, normalised (lower case, no trailing dot)."""
    return frozenset(n.strip().lower().rstrip(".") for n in names if n.strip())
