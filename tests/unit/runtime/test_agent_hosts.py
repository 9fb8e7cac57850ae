"""The Host guard (DNS rebinding): which names reach which routes."""

from __future__ import annotations

import pytest

from cfgc.runtime.agent.hosts import ALLOWED, LOOPBACK, REFUSED, HostPolicy, allowed_names


@pytest.mark.parametrize("host", ["localhost", "localhost:8601", "127.0.0.1", "127.0.0.1:1", "[::1]",
                                  "[::1]:8601", "LocalHost:8601"])
def test_loopback_names_reach_everything(host: str) -> None:
    assert HostPolicy().classify(host) == LOOPBACK


@pytest.mark.parametrize("host", ["evil.attacker.example:8601", "evil.attacker.example", "127.0.0.1.evil.example",
                                  "localhost.evil.example", "[::1", "::1", "localhost:80:80", "", "0.0.0.0",
                                  "cfgc-agent.default.svc.evil"])
def test_other_names_are_refused(host: str) -> None:
    assert HostPolicy(allowed_names(("cfgc-agent.default.svc",))).classify(host) == REFUSED


def test_allow_host_names_are_allowed_but_not_loopback() -> None:
    p = HostPolicy(allowed_names(("CFGC-Agent.default.svc.", " ")))
    assert p.classify("cfgc-agent.default.svc:8601") == ALLOWED
    assert p.classify("cfgc-agent.default.svc.") == ALLOWED
    assert p.classify(None) == ALLOWED  # HTTP/1.0 without Host: never the secrets


def test_unix_socket_listener_does_not_check() -> None:
    assert HostPolicy(check=False).classify("evil.attacker.example") == LOOPBACK


def test_the_cache_is_bounded_and_keeps_answers() -> None:
    p = HostPolicy()
    for i in range(1000):
        assert p.classify(f"h{i}.example") == REFUSED
    assert len(p._cache) <= 256 and p.classify("localhost") == LOOPBACK
