"""The lookup fast path of templating gives exactly what Jinja2 gives (value, type or error)."""

from __future__ import annotations

import pytest

from cfgc.base.errors import InputError, Location
from cfgc.base.limits import DEFAULT_LIMITS
from cfgc.base.secretrefs import SecretRef
from cfgc.compile import templating
from cfgc.compile.templating import render_target

CONFIG = {
    "org": {"domain": "example.com", "region": "{{ config.org.zone }}-1", "zone": "eu", "n": 7, "ok": True,
            "f": 1.5, "items": "shadowed by dict.items", "_raw": "hidden", "list": [1, 2], "none": None},
    "chain": {"a": "{{ config.chain.b }}", "b": "{{ config.chain.a }}"},
    "db": {"password": SecretRef("s.enc.yaml", ("db", "password"), "str")},
}
TEMPLATES = [
    "https://{{ service }}.{{ env }}.{{ config.org.domain }}",
    "{{ config.org.region }}", "  {{ config.org.n }} ", "{{config.org.n}}", "n={{ config.org.n }}",
    "{{ config.org.ok }}", "ok={{ config.org.ok }}", "{{ config.org.f }}", "f={{ config.org.f }}",
    "{{ config.org }}", "{{ config.org.list }}", "l={{ config.org.list }}", "{{ config.org.none }}",
    "x={{ config.org.none }}", "{{ config.org.items }}", "{{ config.org._raw }}", "{{ config.org.missing }}",
    "{{ nope }}", "{{ range }}", "{{ target }}/{{ service }}\n", "a}{{ service }}", "{{ service }}\r\n",
    "{{ config.chain.a }}", "{{ config.db.password }}", "pw={{ config.db.password }}", "{{ service.upper }}",
    "{{ config.org.domain.upper }}", "{{ service }}{{ env }}", "{{ config.org.zone }}{% if 1 %}!{% endif %}",
]


def loc(path):
    return Location("t.yaml", 1, 1)


def outcome(text: str, fast: bool, monkeypatch: pytest.MonkeyPatch, limits=DEFAULT_LIMITS):
    with monkeypatch.context() as m:
        if not fast:
            m.setattr(templating, "_simple", lambda text: None)
        try:
            root = {**CONFIG, "value": text}
            out = render_target(root, {"service": "chat", "env": "prod"}, "acme/prod/chat", loc, [("value",)], limits)
            value = out["value"]
            return "ok", type(value), "<callable>" if callable(value) else value  # a bound method is new each time
        except InputError as e:
            return "error", str(e), None


@pytest.mark.parametrize("text", TEMPLATES)
def test_a_lookup_renders_as_jinja2_renders_it(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert outcome(text, True, monkeypatch) == outcome(text, False, monkeypatch)


def test_plain_lookups_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_jinja(text: str):
        raise AssertionError(f"Jinja2 compiled {text!r}")

    monkeypatch.setattr(templating, "_compiled", no_jinja)
    kind, _, value = outcome("https://{{ service }}.{{ config.org.region }}", True, monkeypatch)
    assert (kind, value) == ("ok", "https://chat.eu-1")


def test_the_output_limit_counts_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    tight = replace(DEFAULT_LIMITS, template_output_chars=20)
    text = "https://{{ service }}.{{ env }}.{{ config.org.domain }}"
    fast = outcome(text, True, monkeypatch, tight)
    assert fast[0] == "error" and fast == outcome(text, False, monkeypatch, tight)
